/**
 * effect-kv as an app installs it: the packed tarball beside the app's own `effect`, an older
 * patch of the line than the one we build with. Effect's packages are peer dependencies of ours,
 * so the app's tree holds one `effect`, the app's, shared by both; were they dependencies, npm
 * would nest our pinned copy under effect-kv.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { tempDir } from "../storage/fixtures/TempDir.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const ours = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
  readonly devDependencies: Record<string, string>
  readonly peerDependencies: Record<string, string>
  readonly peerDependenciesMeta: Record<string, { readonly optional?: boolean }>
}

/** The app's own `effect`: within our peer range, older than the one we pin. */
const appEffect = "3.22.3"

/** Runs a command to completion; fails with its output if it exits non-zero. */
const exec = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  Effect.async<string, Error>((resume) => {
    const child = execFile(command, args, { cwd, maxBuffer: 1 << 24 }, (error, stdout, stderr) =>
      resume(error === null ? Effect.succeed(stdout) : Effect.fail(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stderr}`))))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Every installed package named `name` under `dir`, by folder. */
const copiesOf = (dir: string, name: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(`node_modules${Path.sep}${name}${Path.sep}package.json`))
    .filter((file) => (JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8")) as { name?: string }).name === name)
    .map(Path.dirname)

describe("package", () => {
  it("declares effect and the @effect packages as peers of the line it builds with, pinned exactly for its own builds, the optional ones optional", () => {
    for (const name of ["effect", "@effect/platform", "@effect/platform-node", "@effect/experimental", "@effect/opentelemetry"]) {
      const pinned = ours.devDependencies[name]!
      expect(pinned).toMatch(/^\d+\.\d+\.\d+$/)
      // A caret on 3.x allows any later 3.x; on 0.y only later 0.y.z, as Effect's own packages declare.
      const line = pinned.startsWith("0.") ? pinned.split(".").slice(0, 2).join(".") : pinned.split(".")[0]!
      expect(ours.peerDependencies[name]).toMatch(new RegExp(`^\\^${line.replace(".", "\\.")}\\.`))
    }
    // Only effect-kv/persistence and serve --otlp-url load these: an app need not install them.
    expect(ours.peerDependenciesMeta["@effect/experimental"]?.optional).toBe(true)
    expect(ours.peerDependenciesMeta["@effect/opentelemetry"]?.optional).toBe(true)
    // The one @effect/experimental built for the effect we pin: its own peer range holds our effect.
    const experimental = JSON.parse(
      Fs.readFileSync(Path.join(root, "node_modules", "@effect", "experimental", "package.json"), "utf8")
    ) as { readonly version: string; readonly peerDependencies: Record<string, string> }
    expect(experimental.version).toBe(ours.devDependencies["@effect/experimental"])
    const range = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(experimental.peerDependencies["effect"]!)!.slice(1).map(Number)
    const effect = ours.devDependencies["effect"]!.split(".").map(Number)
    expect(effect[0]).toBe(range[0])
    expect(effect[1]! * 1e6 + effect[2]!).toBeGreaterThanOrEqual(range[1]! * 1e6 + range[2]!)
  })

  it.scoped("an app with its own effect gets exactly one copy, which effect-kv uses", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      // `npm test` builds first; packing what is built keeps this test to one install.
      const packed = yield* exec("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir], root)
      const tarball = Path.join(dir, packed.trim().split("\n").pop()!)
      const app = Path.join(dir, "app")
      Fs.mkdirSync(app)
      Fs.writeFileSync(Path.join(app, "package.json"), JSON.stringify({
        name: "app",
        private: true,
        type: "module",
        dependencies: { effect: appEffect, "effect-kv": `file:${tarball}` }
      }))
      yield* exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional"], app)
      expect(copiesOf(app, "effect")).toEqual([Path.join("node_modules", "effect")])
      expect(JSON.parse(Fs.readFileSync(Path.join(app, "node_modules", "effect", "package.json"), "utf8")).version).toBe(appEffect)
      expect(copiesOf(app, "@effect/platform")).toEqual([Path.join("node_modules", "@effect", "platform")])
      // The app's Effect runs effect-kv's layers: one runtime, one copy.
      Fs.writeFileSync(Path.join(app, "main.js"), [
        "import { Effect } from \"effect\"",
        "import { KV } from \"effect-kv\"",
        "const program = Effect.flatMap(KV, (kv) => Effect.zipRight(kv.put(\"s\", \"k\", 1), kv.get(\"s\", \"k\")))",
        "console.log(JSON.stringify(await Effect.runPromise(Effect.provide(program, KV.layerMemory()))))"
      ].join("\n"))
      expect((yield* exec(process.execPath, ["main.js"], app)).trim()).toBe("{\"_id\":\"Option\",\"_tag\":\"Some\",\"value\":1}")
      // The persistence entry point is exported, and runs on the app's one effect too.
      Fs.writeFileSync(Path.join(app, "persistence.js"), [
        "import * as Persistence from \"@effect/experimental/Persistence\"",
        "import { Effect, Layer, Option } from \"effect\"",
        "import { KV } from \"effect-kv\"",
        "import { KVPersistence } from \"effect-kv/persistence\"",
        "const program = Effect.gen(function*() {",
        "  const store = yield* (yield* Persistence.BackingPersistence).make(\"cache\")",
        "  yield* store.set(\"k\", [1], Option.none())",
        "  return yield* store.get(\"k\")",
        "})",
        "const layer = KVPersistence.layer().pipe(Layer.provide(KV.layerMemory()))",
        "console.log(JSON.stringify(await Effect.runPromise(Effect.scoped(Effect.provide(program, layer)))))"
      ].join("\n"))
      expect((yield* exec(process.execPath, ["persistence.js"], app)).trim()).toBe("{\"_id\":\"Option\",\"_tag\":\"Some\",\"value\":[1]}")
    }), 120_000)
})
