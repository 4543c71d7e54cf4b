import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cli from "./cli.js"

const commands = ["serve", "get", "put", "del", "keys", "stores", "verify", "compact", "export", "import"]

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
    [["serve", "--port", "http"], /integer/]
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
