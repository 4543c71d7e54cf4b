/**
 * The README is executable: every TypeScript block in it type-checks as a module of its own, with
 * `effect-kv`, `effect-kv/otp`, `effect-kv/http` and `effect-kv/persistence` resolving to the sources, and the blocks
 * marked ```` ```ts run ```` run to completion.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(new URL("../", import.meta.url).pathname)
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")

interface Block {
  readonly line: number
  readonly code: string
  readonly run: boolean
}

/** The fenced blocks whose info string starts with `ts` or `typescript`, with the line each starts on. */
const blocks: ReadonlyArray<Block> = (() => {
  const found: Array<Block> = []
  const lines = readme.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i]!)
    if (fence === null) continue
    const indent = fence[1]!.length
    const body: Array<string> = []
    let j = i + 1
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent))
    found.push({ line: i + 1, code: body.join("\n"), run: /\brun\b/.test(fence[3]!) })
    i = j
  }
  return found
})()

const entryPoints: Record<string, string> = {
  "effect-kv": "src/index.ts",
  "effect-kv/otp": "src/otp/index.ts",
  "effect-kv/http": "src/http/index.ts",
  "effect-kv/persistence": "src/persistence.ts"
}

// A block's file name says where it is in the README.
const fileOf = (block: Block) => Path.join(root, `README.md.line-${block.line}.ts`)

/** Type errors of every block, each as `README.md:<line>: <message>` (the block's first line is the fence). */
const typeErrors = (): Array<string> => {
  const config = ts.getParsedCommandLineOfConfigFile(Path.join(root, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
    }
  })!
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    // Every block is a module of its own, and may show a value it does not go on to use.
    moduleDetection: ts.ModuleDetectionKind.Force,
    noUnusedLocals: false,
    noUnusedParameters: false,
    paths: Object.fromEntries(Object.entries(entryPoints).map(([name, file]) => [name, [Path.join(root, file)]]))
  }
  const files = new Map(blocks.map((block) => [fileOf(block), block]))
  const host = ts.createCompilerHost(options)
  const readFile = host.readFile
  const fileExists = host.fileExists
  host.readFile = (file) => files.get(file)?.code ?? readFile.call(host, file)
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file)
  host.getSourceFile = (file, language) => {
    const text = host.readFile(file)
    return text === undefined ? undefined : ts.createSourceFile(file, text, language, true)
  }
  const program = ts.createProgram([...files.keys()], options, host)
  return [...files.keys()].flatMap((file) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((diagnostic) => {
      const block = files.get(diagnostic.file?.fileName ?? "")
      const line = block === undefined || diagnostic.start === undefined
        ? "?"
        : block.line + 1 + diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start).line
      return `README.md:${line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`
    })
  )
}

describe("the README", () => {
  it("has TypeScript blocks, some of them to run", () => {
    expect(blocks.length).toBeGreaterThan(5)
    expect(blocks.some((block) => block.run)).toBe(true)
  })

  it("type-checks every TypeScript block", () => {
    expect(typeErrors()).toEqual([])
  }, 120_000)

  // Each runnable block runs as the module a user would save it as; its top-level await ends with it.
  describe.each(blocks.filter((block) => block.run))("the block at line $line", (block) => {
    it("runs to completion", async () => {
      const folder = Fs.mkdtempSync(Path.join(root, "test", ".readme-"))
      try {
        const file = Path.join(folder, "block.ts")
        Fs.writeFileSync(file, block.code)
        await import(/* @vite-ignore */ file)
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    })
  })
})
