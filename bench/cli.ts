/**
 * The CLI's start: `effect-kv get` run to completion against a running server (start, one request,
 * the value printed, exit) beside `node -e ''` (Node's own start and exit), in interleaved rounds
 * (`./rounds.ts`); wall-clock milliseconds of each process, as a person waits for it (target: at
 * most 3x). The binary is the one `npm run build` makes, as `npm run bench` builds it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { heading } from "./report.js"
import { compare } from "./rounds.js"

const binary = fileURLToPath(new URL("../bin/effect-kv.js", import.meta.url))

/** Runs `node ...args` to completion; its wall time in ms. Fails unless it exits 0. */
const time = (args: ReadonlyArray<string>) =>
  new Promise<number>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk)
    child.on("close", (code) => {
      const elapsed = performance.now() - start
      if (code === 0) resolve(elapsed)
      else reject(new Error(`node ${args.join(" ")} exited ${code}: ${stderr}`))
    })
  })

/** Starts `effect-kv serve` on a fresh folder and a free port; resolves with its URL. */
const serve = (dataDir: string) =>
  new Promise<{ readonly url: string; readonly child: ChildProcess }>((resolve, reject) => {
    const child = spawn(process.execPath, [binary, "serve", "--data-dir", dataDir, "--port", "0"], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let seen = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      seen += chunk
      const url = /https?:\/\/[^\s,]+/.exec(seen)
      if (url !== null) resolve({ url: url[0], child })
    })
    child.on("exit", (code) => reject(new Error(`serve exited ${code} before listening`)))
  })

export const run = async () => {
  heading("CLI start: effect-kv get against a running server, beside node -e '' (wall ms, interleaved rounds)")
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-kv-bench-cli-"))
  const server = await serve(dataDir)
  try {
    await time([binary, "put", "users", "ada", "{\"name\":\"Ada\",\"born\":1815}", "--url", server.url])
    await compare(
      "effect-kv get",
      { label: "effect-kv get", run: () => time([binary, "get", "users", "ada", "--url", server.url]) },
      { label: "node -e ''", run: () => time(["-e", ""]) },
      { unit: "ms", rounds: 11 }
    )
  } finally {
    server.child.kill("SIGTERM")
    await new Promise((resolve) => server.child.once("exit", resolve))
    Fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
