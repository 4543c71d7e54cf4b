/**
 * What each entry point loads: the optional peers (`@effect/experimental` for persistence,
 * `@effect/opentelemetry` for OTLP) are never among the static imports of the entry points that
 * do not need them, so an app without them installed loads effect-kv all the same.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

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
})
