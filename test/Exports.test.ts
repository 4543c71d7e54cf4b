/**
 * Every export of the public modules carries a doc comment with `@since` and `@category`, as
 * Effect's modules do, so that the generated `.d.ts` and docs group the API as a reader looks
 * for it. Internal modules (`internal/`) are not the API and are not checked.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = new URL("../", import.meta.url).pathname

// Every public folder, and the entry points at the top of src.
const folders = ["src", "src/otp", "src/storage", "src/kv", "src/http", "src/cli"]

const publicModules = (folder: string) =>
  Fs.readdirSync(Path.join(root, folder)).filter((file) => file.endsWith(".ts")).map((file) => Path.join(folder, file))

// `export * as X from` and `export { a } from` are exports a reader meets too.
const isExported = (node: ts.Node) =>
  ts.isExportDeclaration(node) ||
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)

const nameOf = (node: ts.Statement): string =>
  ts.isExportDeclaration(node)
    ? node.getText().replace(/\s+/g, " ")
    : ts.isVariableStatement(node)
    ? node.declarationList.declarations.map((declaration) => declaration.name.getText()).join(", ")
    : (node as ts.DeclarationStatement).name?.getText() ?? "(anonymous)"

/** The exports of `file` that lack `@since` or `@category`, each with what it lacks. */
const undocumented = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, Fs.readFileSync(Path.join(root, file), "utf8"), ts.ScriptTarget.Latest, true)
  const missing: Array<string> = []
  for (const statement of source.statements) {
    if (!isExported(statement)) continue
    const tags = new Set(ts.getJSDocTags(statement).map((tag) => tag.tagName.text))
    // A re-export is grouped where it is declared: it needs only its @since, as in Effect's index.
    const wanted = ts.isExportDeclaration(statement) ? ["since"] : ["since", "category"]
    const lacks = wanted.filter((tag) => !tags.has(tag))
    if (lacks.length > 0) missing.push(`${file}: ${nameOf(statement)} lacks @${lacks.join(", @")}`)
  }
  return missing
}

describe("exports are documented", () => {
  for (const folder of folders) {
    it(`every export of ${folder} has @since and @category`, () => {
      const modules = publicModules(folder)
      expect(modules.length).toBeGreaterThan(0)
      expect(modules.flatMap(undocumented)).toEqual([])
    })
  }
})
