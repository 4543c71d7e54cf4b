/**
 * The `effect-kv` binary as `npm run build` makes it: the package's `bin` is the launcher, which
 * runs the bundled CLI; and a client command initialises none of the server's modules. What ran
 * is read from V8's coverage (`NODE_V8_COVERAGE`): the bundle wraps each module it holds in an
 * initialiser named after the module's file, called when the module is first imported.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "./cli.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const bundle = Path.join(root, "dist", "bin", "cli.cjs")

interface Coverage {
  readonly result: ReadonlyArray<{
    readonly url: string
    readonly functions: ReadonlyArray<{ readonly functionName: string; readonly ranges: ReadonlyArray<{ readonly count: number }> }>
  }>
}

/** The bundle's modules, each with whether it was initialised, in the run that wrote coverage to `dir`. */
const modulesIn = (dir: string): Map<string, boolean> => {
  const modules = new Map<string, boolean>()
  for (const file of Fs.readdirSync(dir)) {
    const coverage = JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8")) as Coverage
    for (const script of coverage.result) {
      if (script.url !== `file://${bundle}`) continue
      for (const fn of script.functions) {
        if (/^(src|node_modules)\//.test(fn.functionName)) modules.set(fn.functionName, fn.ranges[0]!.count > 0)
      }
    }
  }
  return modules
}

const initialised = (modules: Map<string, boolean>) => [...modules].flatMap(([name, ran]) => ran ? [name] : [])

/** The server: the HTTP server and its handlers, the stores, their storage, the actors under them. */
const serverModules = [
  "src/http/Server.ts",
  "src/http/Handlers.ts",
  "src/kv/KV.ts",
  "src/kv/Store.ts",
  "src/storage/Storage.ts",
  "src/otp/Server.ts",
  "node_modules/@effect/platform/dist/esm/HttpApiBuilder.js",
  "node_modules/@effect/platform-node/dist/esm/NodeHttpServer.js"
]

describe("the effect-kv binary", () => {
  it("is the launcher of the bundle, and the bundle has its code cache", () => {
    const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as { readonly bin: Record<string, string> }
    expect(pkg.bin["effect-kv"]).toBe("dist/bin/effect-kv.js")
    const launcher = Fs.readFileSync(Path.join(root, pkg.bin["effect-kv"]!), "utf8")
    expect(launcher.startsWith("#!/usr/bin/env node\n")).toBe(true)
    expect(launcher).toContain("cli.cjs")
    expect(Fs.statSync(`${bundle}.cache`).size).toBeGreaterThan(0)
  })

  it.scopedLive("runs the bundled CLI, where client commands load no server code and serve loads it", () =>
    Effect.gen(function*() {
      const serveCoverage = yield* Cli.tempDir
      const server = yield* Cli.serve(yield* Cli.tempDir, [], { env: { NODE_V8_COVERAGE: serveCoverage } })
      for (
        const args of [
          ["put", "users", "ada", "{\"name\":\"Ada\"}"],
          ["get", "users", "ada"],
          ["keys", "users"],
          ["stores"]
        ]
      ) {
        const coverage = yield* Cli.tempDir
        const result = yield* Cli.run([...args, "--url", server.url], { env: { NODE_V8_COVERAGE: coverage } })
        expect(result).toMatchObject({ code: 0, stderr: "" })
        const modules = modulesIn(coverage)
        // Each server module is in the bundle, waiting: its initialiser never ran.
        expect(serverModules.map((name) => [name, modules.get(name)])).toEqual(serverModules.map((name) => [name, false]))
        expect(initialised(modules).filter((name) => name.startsWith("src/otp/") || name.startsWith("src/storage/Storage")))
          .toEqual([])
      }
      yield* Cli.stop(server)
      expect(initialised(modulesIn(serveCoverage))).toEqual(expect.arrayContaining(serverModules))
    }), 120_000)
})
