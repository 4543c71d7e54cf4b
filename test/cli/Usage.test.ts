import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cli from "./cli.js"

const commands = [
  "serve",
  "get",
  "put",
  "del",
  "keys",
  "stores",
  "restart",
  "expire",
  "persist",
  "atomic",
  "verify",
  "compact",
  "export",
  "import"
]

// Each option and the variable it can come from.
const environment: Record<string, string> = {
  "--data-dir": "KV_DATA_DIR",
  "--host": "KV_HOST",
  "--port": "KV_PORT",
  "--sync": "KV_SYNC",
  "--token": "KV_TOKEN",
  "--cors-origin": "KV_CORS_ORIGIN",
  "--timeout": "KV_TIMEOUT",
  "--url": "KV_URL"
}

/** The entries of a help section: each name line (`--port PORT`, `<STORE>`) with the text under it. */
const entries = (help: string, section: string): Array<readonly [string, string]> => {
  const start = help.indexOf(`\n${section}\n`)
  if (start === -1) return []
  const body = help.slice(start + section.length + 2).split(/\n(?=[A-Z]+\n)/)[0]!
  return body.split(/\n(?=[-<(])/).map((entry) => entry.trim()).filter((entry) => entry !== "").map((entry) => {
    const [name, ...description] = entry.split("\n")
    return [name!.trim(), description.join(" ").trim()] as const
  })
}

// A failure is exactly one line on stderr, without colour codes or a stack trace.
const expectOneLine = (stderr: string) => {
  expect(stderr.trimEnd().split("\n")).toHaveLength(1)
  expect(stderr).not.toMatch(/\u001b\[/)
  expect(stderr).not.toMatch(/^\s+at /m)
}

describe("effect-kv usage", () => {
  it.live("--help lists every command", () =>
    Effect.gen(function*() {
      const result = yield* Cli.run(["--help"])
      expect(result.code).toBe(0)
      for (const command of commands) expect(result.stdout).toContain(`- ${command}`)
      expect(result.stdout).not.toMatch(/\u001b\[/)
    }))

  it.live.each(commands)("%s --help describes it and exits 0", (command) =>
    Effect.gen(function*() {
      const result = yield* Cli.run([command, "--help"])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("DESCRIPTION")
      expect(result.stdout).not.toMatch(/\u001b\[/)
    }))

  it.live.each(commands)("%s --help: usage starts with effect-kv and the command; every entry says what it is, its default and its variable", (command) =>
    Effect.gen(function*() {
      const help = (yield* Cli.run([command, "--help"])).stdout
      expect(help).toMatch(new RegExp(`\\nUSAGE\\n\\neffect-kv ${command}( |\\n)`))
      expect(help).not.toMatch(/^\$ /m)
      for (const boilerplate of ["A user-defined piece of text", "This setting is optional", "can be set from environment", "An integer."]) {
        expect(help).not.toContain(boilerplate)
      }
      const all = [...entries(help, "ARGUMENTS"), ...entries(help, "OPTIONS")]
      for (const [name, description] of all) {
        expect({ name, description }).toMatchObject({ name, description: /\w.*\./ })
        const option = name.split(" ")[0]!
        if (option.startsWith("--")) expect({ name, description }).toMatchObject({ description: /Default: / })
        if (environment[option] !== undefined) expect(description).toContain(`Environment: ${environment[option]}.`)
      }
      // Only the root lists the built-in options.
      expect(help).not.toContain("--wizard")
    }))

  it.live("the root's help shows how to run a command and lists the built-in options", () =>
    Effect.gen(function*() {
      const help = (yield* Cli.run(["--help"])).stdout
      expect(help).toContain("\nUSAGE\n\neffect-kv <command> [arguments] [options]\n")
      expect(help).toContain("--log-level")
      expect(help).not.toContain("A true or false value")
    }))

  it.live("no colour codes when NO_COLOR is set either", () =>
    Effect.gen(function*() {
      const result = yield* Cli.run(["get", "--help"], { env: { NO_COLOR: "1" } })
      expect(result.stdout).not.toMatch(/\u001b\[/)
    }))

  const badArguments: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
    [["bogus"], /subcommand/],
    [["get", "only-a-store"], /Missing argument <KEY>/],
    [["keys", "s", "--limit", "0"], /--limit must be at least 1/],
    [["keys", "s", "--limit", "many"], /integer/],
    [["serve", "--sync", "sometimes"], /always/],
    [["serve", "--port", "http"], /integer/],
    [["serve", "--timeout", "0"], /--timeout must be more than 0 seconds/],
    [["put", "s", "k", "1", "--ttl", "0"], /ttl: send the seconds until the key expires, a number above 0/],
    [["put", "s", "k", "1", "--ttl", "30s"], /ttl: send the seconds/],
    [["expire", "s", "k", "-1"], /ttl: send the seconds/],
    [["atomic", "s", "--file", "/nonexistent/write.json"], /nonexistent/]
  ]

  it.live.each(badArguments)("a bad argument %j is one line on stderr and exit code 2", ([args, message]) =>
    Effect.gen(function*() {
      const result = yield* Cli.run(args)
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(message)
      expectOneLine(result.stderr)
      expect(result.stdout).toBe("")
    }))

  it.live("a value that is not JSON is refused before anything is sent", () =>
    Effect.gen(function*() {
      const overflow = yield* Cli.run(["put", "s", "k", "{\"n\": 1e400}", "--url", "http://127.0.0.1:1"])
      expect(overflow.code).toBe(1)
      expect(overflow.stderr).toMatch(/^error: the JSON argument is not valid JSON: the value is not JSON at \$\.n: the number 1e400 overflows/)
      const argument = yield* Cli.run(["put", "s", "k", "{oops", "--url", "http://127.0.0.1:1"])
      expect(argument.code).toBe(1)
      expect(argument.stderr).toMatch(/^error: the JSON argument is not valid JSON/)
      expectOneLine(argument.stderr)
      const stdin = yield* Cli.run(["put", "s", "k", "-", "--url", "http://127.0.0.1:1"], { input: "[1, 2" })
      expect(stdin.code).toBe(1)
      expect(stdin.stderr).toMatch(/^error: stdin is not valid JSON/)
    }))

  it.live("KV_URL names the server, and --url overrides it", () =>
    Effect.gen(function*() {
      const fromEnv = yield* Cli.run(["stores"], { env: { KV_URL: "http://127.0.0.1:1" } })
      expect(fromEnv.code).toBe(1)
      expect(fromEnv.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:1 /)
      expectOneLine(fromEnv.stderr)
      const fromOption = yield* Cli.run(["stores", "--url", "http://127.0.0.1:2"], { env: { KV_URL: "http://127.0.0.1:1" } })
      expect(fromOption.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:2 /)
    }))
})
