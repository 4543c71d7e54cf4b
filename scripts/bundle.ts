/**
 * The second half of `npm run build`, after `tsc`: bundles the CLI (`bin/cli.ts`, with every
 * package it imports) into `dist/bin/cli.cjs`, builds its launcher `dist/bin/effect-kv.js` (the
 * package's `bin`), puts the web console's files beside them, and makes the code cache that the
 * launcher compiles the bundle from.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Esbuild from "esbuild"

const root = fileURLToPath(new URL("../..", import.meta.url))
const out = Path.join(root, "dist", "bin")
const bundle = Path.join(out, "cli.cjs")

await Esbuild.build({
  entryPoints: [Path.join(root, "bin", "cli.ts")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  target: "node20",
  // CommonJS, so that the launcher can compile it from a code cache (see bin/effect-kv.ts). The
  // modules a command imports with `import()` (the server, the stores) are initialised only when
  // it does, so the client commands never run their code.
  format: "cjs",
  charset: "ascii",
  logLevel: "warning",
  // A module that finds its files by `import.meta.url` finds them beside the bundle.
  banner: { js: "const __bundle_url = require(\"node:url\").pathToFileURL(__filename).href;" },
  define: { "import.meta.url": "__bundle_url" }
})

// The launcher, CommonJS as well: Node starts a CommonJS program without its ES module loader.
await Esbuild.build({
  entryPoints: [Path.join(root, "bin", "effect-kv.ts")],
  outfile: Path.join(out, "effect-kv.js"),
  platform: "node",
  target: "node20",
  format: "cjs",
  logLevel: "warning"
})
Fs.writeFileSync(Path.join(out, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`)

Fs.rmSync(Path.join(out, "console"), { recursive: true, force: true })
Fs.cpSync(Path.join(root, "src", "http", "console"), Path.join(out, "console"), { recursive: true })

// The cache holds what a run compiled: one `get` against a stand-in server, the path of every
// client command (a request, an answer decoded and printed).
const cacheFile = `${bundle}.cache`
Fs.rmSync(cacheFile, { force: true })
const server = Http.createServer((_request, response) => {
  response.writeHead(200, { "content-type": "application/json" })
  response.end("{}")
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const { port } = server.address() as { readonly port: number }
// Not spawnSync: the stand-in server answers on this process's event loop.
const child = spawn(process.execPath, [Path.join(out, "effect-kv.js"), "get", "s", "k", "--url", `http://127.0.0.1:${port}`], {
  env: { ...process.env, EFFECT_KV_WRITE_CODE_CACHE: "1" },
  stdio: ["ignore", "ignore", "inherit"]
})
const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
server.close()
if (code !== 0 || !Fs.existsSync(cacheFile)) {
  throw new Error(`the run that makes ${cacheFile} failed (exit code ${code})`)
}
