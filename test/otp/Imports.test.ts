/**
 * The rule of Effect's own modules, for `src/otp`: internal code imports public modules only as
 * types, and no module imports itself back through others at run time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../../src/otp")

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    return entry.isDirectory() ? sources(file) : file.endsWith(".ts") ? [file] : []
  })

// The relative modules `file` imports or re-exports at run time (`import type` and
// `import { type A, type B }` are left out: they vanish from the JavaScript).
const runtimeImports = (file: string): Array<string> =>
  Array.from(fs.readFileSync(file, "utf8").matchAll(/^(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"/gms))
    .filter(([, typeOnly, names, specifier]) => {
      if (typeOnly !== undefined || !specifier!.startsWith(".")) return false
      const braced = names!.match(/^\{([^}]*)\}$/s)
      return braced === null || !braced[1]!.split(",").map((name) => name.trim()).filter(Boolean).every((name) => name.startsWith("type "))
    })
    .map(([, , , specifier]) => path.resolve(path.dirname(file), specifier!.replace(/\.js$/, ".ts")))

const graph = new Map(sources(root).map((file) => [file, runtimeImports(file)]))
const name = (file: string) => path.relative(root, file)

describe("src/otp imports", () => {
  it("internal modules import public modules only as types", () => {
    const offending = Array.from(graph).flatMap(([file, imports]) =>
      name(file).startsWith("internal")
        ? imports.filter((imported) => !name(imported).startsWith("internal")).map((imported) => `${name(file)} -> ${name(imported)}`)
        : []
    )
    expect(offending).toEqual([])
  })

  it("no module reaches itself through its run-time imports", () => {
    const cycles: Array<string> = []
    const visit = (file: string, trail: ReadonlyArray<string>) => {
      for (const imported of graph.get(file) ?? []) {
        if (imported === trail[0]) cycles.push([...trail, imported].map(name).join(" -> "))
        else if (!trail.includes(imported)) visit(imported, [...trail, imported])
      }
    }
    for (const file of graph.keys()) visit(file, [file])
    expect(cycles).toEqual([])
  })
})
