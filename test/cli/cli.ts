/**
 * Running the built CLI as a child process, in temporary folders, against a real server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as FsPromises from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Deferred, Effect, Exit, Scope } from "effect"

const binary = fileURLToPath(new URL("../../dist/bin/effect-kv.js", import.meta.url))

/**
 * The tests run the built CLI, as users do: `npm test` builds it first (`pretest`). A run of
 * these files alone on a build older than the sources fails here rather than test stale code.
 */
const newestSource = (folder: string): number =>
  Fs.readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((file) => /\.(ts|js|html|css)$/.test(file))
    .reduce((newest, file) => Math.max(newest, Fs.statSync(Path.join(folder, file)).mtimeMs), 0)

const sources = ["src", "bin"].map((folder) => fileURLToPath(new URL(`../../${folder}`, import.meta.url)))
const built = Fs.existsSync(binary) ? Fs.statSync(binary).mtimeMs : 0
if (sources.some((folder) => newestSource(folder) > built)) {
  throw new Error(`${binary} is older than the sources: run "npm run build" (npm test builds first)`)
}

/** What a finished run printed and how it ended. */
export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** Extra environment variables; the parent's `KV_*` ones are never passed on. */
  readonly env?: Record<string, string>
  /** Written to stdin, which is then closed. */
  readonly input?: string
  readonly cwd?: string
}

const childEnv = (extra: Record<string, string> = {}) => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("KV_") && name !== "NO_COLOR") env[name] = value
  }
  return { ...env, ...extra }
}

const spawnCli = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  spawn(process.execPath, [binary, ...args], {
    env: childEnv(options.env),
    cwd: options.cwd ?? process.cwd(),
    stdio: ["pipe", "pipe", "pipe"]
  })

// Collects a child's output until it exits.
const collect = (child: ChildProcess): Effect.Effect<Result> =>
  Effect.async<Result>((resume) => {
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => stdout += chunk)
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk)
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
  })

/** Runs `effect-kv ...args` to completion. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Result> =>
  Effect.suspend(() => {
    const child = spawnCli(args, options)
    const result = collect(child)
    child.stdin!.end(options.input ?? "")
    // A test that times out leaves no process behind.
    return Effect.onInterrupt(result, () => Effect.sync(() => child.kill("SIGKILL")))
  })

/** A fresh temporary folder, removed with the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => FsPromises.mkdtemp(Path.join(Os.tmpdir(), "effect-kv-cli-"))),
  (dir) => Effect.promise(() => FsPromises.rm(dir, { recursive: true, force: true }))
)

/** A running `effect-kv serve`. */
export interface Server {
  readonly url: string
  readonly child: ChildProcess
  /** Resolves when the process has exited. */
  readonly exited: Effect.Effect<Result>
}

/**
 * Starts `effect-kv serve ...args` and waits for its "listening" line. The scope kills it if it
 * still runs.
 */
export const serveWith = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Server, Error, Scope.Scope> =>
  listening(() => spawnCli(["serve", ...args], options))

const packageRoot = fileURLToPath(new URL("../..", import.meta.url))

/**
 * Runs `npm start` in the package's folder, as the README says, and waits for the server's
 * "listening" line; `env` points it at a temporary folder and port. The scope kills npm if it
 * still runs.
 */
export const npmStart = (env: Record<string, string>): Effect.Effect<Server, Error, Scope.Scope> =>
  listening(() =>
    spawn("npm", ["start"], {
      env: childEnv(env),
      cwd: packageRoot,
      stdio: ["pipe", "pipe", "pipe"]
    })
  )

const listening = (start: () => ChildProcess): Effect.Effect<Server, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(start),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    const listening = yield* Deferred.make<string, Error>()
    const exited = yield* Deferred.make<Result>()
    let seen = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      seen += chunk
      const url = /https?:\/\/[^\s,]+/.exec(seen)
      if (url !== null) Deferred.unsafeDone(listening, Exit.succeed(url[0]))
    })
    yield* Effect.forkDaemon(Effect.flatMap(collect(child), (result) => {
      Deferred.unsafeDone(listening, Exit.fail(new Error(`serve exited before listening: ${result.stderr}`)))
      return Deferred.succeed(exited, result)
    }))
    const url = yield* Deferred.await(listening)
    return { url, child, exited: Deferred.await(exited) }
  })

/** Starts `effect-kv serve` on `dataDir` and a free port of 127.0.0.1, durable (`--sync always`). */
export const serve = (dataDir: string, args: ReadonlyArray<string> = [], options: RunOptions = {}) =>
  serveWith(["--data-dir", dataDir, "--port", "0", "--sync", "always", ...args], options)

/** Stops a server as an operator does, and waits for it to exit. */
export const stop = (server: Server, signal: NodeJS.Signals = "SIGTERM") =>
  Effect.zipRight(Effect.sync(() => server.child.kill(signal)), server.exited)

/** A raw HTTP request to a test server, for what the CLI does not do. */
export const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, body: await response.text() }
  })

/** Whether `script` (util-linux) is here to give a command a terminal. */
export const hasTerminal = spawnSync("script", ["--version"]).status === 0

/** What a run on a terminal showed there, colour and cursor codes removed, and its exit code. */
export interface TerminalResult {
  readonly code: number | null
  readonly screen: string
}

const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`

/**
 * Runs `effect-kv ...args` with stderr (and stdout, unless redirected to a file) on a terminal,
 * as a person at one would; stdin from a file, or none.
 */
export const runOnTerminal = (
  args: ReadonlyArray<string>,
  redirect: { readonly stdin?: string; readonly stdout?: string } = {}
): Effect.Effect<TerminalResult> =>
  Effect.suspend(() => {
    const line = [process.execPath, binary, ...args].map(shellQuote).join(" ") +
      ` < ${shellQuote(redirect.stdin ?? "/dev/null")}` + (redirect.stdout === undefined ? "" : ` > ${shellQuote(redirect.stdout)}`)
    const child = spawn("script", ["--quiet", "--return", "--command", line, "/dev/null"], {
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"]
    })
    return Effect.map(collect(child), (result) => ({
      code: result.code,
      screen: result.stdout.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "\n")
    }))
  })
