/**
 * What each entry point loads: the optional peers (`@effect/experimental` for persistence,
 * `@effect/opentelemetry` for OTLP) are never among the static imports of the entry points that
 * do not need them, so an app without them installed loads effect-kv all the same.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import "../cli/cli.js" // fails the file if dist/ is older than the sources: the child processes load dist/

const root = path.resolve(import.meta.dirname, "../..")

// The modules `file` imports or re-exports at run time: `import type` and imports of types only
// vanish from the JavaScript, and `import("...")` is loaded only when it runs.
const runtimeImports = (file: string): Array<string> =>
  Array.from(fs.readFileSync(file, "utf8").matchAll(/^(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"/gms))
    .filter(([, typeOnly, names]) => {
      if (typeOnly !== undefined) return false
      const braced = names!.match(/^\{([^}]*)\}$/s)
      return braced === null || !braced[1]!.split(",").map((name) => name.trim()).filter(Boolean).every((name) => name.startsWith("type "))
    })
    .map(([, , , specifier]) => specifier!.startsWith(".") ? path.resolve(path.dirname(file), specifier!.replace(/\.js$/, ".ts")) : specifier!)

/** Every package that `entry` loads through static imports, with the path that reaches it. */
const packagesLoadedBy = (entry: string): Map<string, string> => {
  const packages = new Map<string, string>()
  const seen = new Set<string>()
  const visit = (file: string, trail: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const imported of runtimeImports(file)) {
      if (path.isAbsolute(imported)) visit(imported, `${trail} -> ${path.relative(root, imported)}`)
      else {
        const name = imported.startsWith("@") ? imported.split("/").slice(0, 2).join("/") : imported.split("/")[0]!
        if (!packages.has(name)) packages.set(name, `${trail} -> ${imported}`)
      }
    }
  }
  visit(path.join(root, entry), entry)
  return packages
}

const optional = ["@effect/experimental", "@effect/opentelemetry"]

describe("entry points", () => {
  for (const entry of ["src/index.ts", "src/http/index.ts", "src/otp/index.ts", "bin/cli.ts"]) {
    it(`${entry} loads no optional peer`, () => {
      const loaded = packagesLoadedBy(entry)
      expect(optional.flatMap((name) => loaded.has(name) ? [loaded.get(name)!] : [])).toEqual([])
      expect(loaded.has("effect")).toBe(true)
    })
  }

  it("src/persistence.ts is the entry point that loads @effect/experimental", () => {
    expect(packagesLoadedBy("src/persistence.ts").has("@effect/experimental")).toBe(true)
  })
})

// A child process in which resolving any optional peer throws, as it would where it is not
// installed, imports the built entry point given and uses it.
const withoutOptionalPeers = (entry: string, use: string) => {
  const hooks = `export const resolve = (specifier, context, next) => {
    if (${JSON.stringify(optional)}.some((name) => specifier === name || specifier.startsWith(name + "/"))) {
      throw new Error("loaded " + specifier + " from " + context.parentURL)
    }
    return next(specifier, context)
  }`
  const script = `import { register } from "node:module"
    register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}))
    const module = await import(${JSON.stringify(pathToFileURL(path.join(root, entry)).href)})
    ${use}`
  return execFileSync(process.execPath, ["--input-type=module", "--eval", script], { cwd: root, encoding: "utf8", stdio: "pipe" })
}

describe("entry points, as node loads them", () => {
  it("the main entry point runs a KV where @effect/experimental and @effect/opentelemetry cannot load", () => {
    const use = `const { Effect } = await import("effect")
      const program = Effect.flatMap(module.KV, (kv) => Effect.zipRight(kv.put("s", "k", 1), kv.get("s", "k")))
      console.log(JSON.stringify(await Effect.runPromise(Effect.provide(program, module.KV.layerMemory()))))`
    expect(withoutOptionalPeers("dist/src/index.js", use).trim()).toBe(`{"_id":"Option","_tag":"Some","value":1}`)
    expect(withoutOptionalPeers("dist/src/http/index.js", "").trim()).toBe("")
  })

  it("effect-kv/persistence is what loads @effect/experimental", () => {
    expect(() => withoutOptionalPeers("dist/src/persistence.js", "")).toThrow(/loaded @effect\/experimental\/Persistence from \S*\/kv\/KVPersistence\.js/)
  })
})
