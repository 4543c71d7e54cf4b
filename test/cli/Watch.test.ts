/**
 * `effect-kv watch` and `effect-kv export --url` against a real server, and a server with open
 * watches stopped by SIGTERM.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Http from "node:http"
import * as Sse from "../http/sse.js"
import * as Cli from "./cli.js"

const put = (url: string, store: string, key: string, value: unknown) =>
  Cli.request(`${url}/stores/${store}/keys/${encodeURIComponent(key)}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value)
  })

const lines = (stdout: string) => stdout.split("\n").filter((line) => line !== "")

const printed = (version: number, key: string, value: unknown) =>
  JSON.stringify({ event: "put", key, value, version })

describe("effect-kv watch", () => {
  it.scopedLive("prints each change as a JSON line, and goes on with no gap after the server is killed or stopped and started again", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const first = yield* Cli.serve(dir)
      const port = new URL(first.url).port
      const again = () => Cli.serveWith(["--data-dir", dir, "--port", port, "--sync", "always"])
      for (const i of [1, 2, 3]) yield* put(first.url, "s", `k${i}`, { i })
      const watcher = yield* Cli.start(["watch", "s", "--since", "1", "--url", first.url])
      yield* watcher.until((stdout) => lines(stdout).length >= 2)
      // Killed: the watcher reconnects, from its last version, to the server started again, whose
      // history comes from the log.
      first.child.kill("SIGKILL")
      yield* first.exited
      const second = yield* again()
      for (const i of [4, 5]) yield* put(second.url, "s", `k${i}`, { i })
      yield* watcher.until((stdout) => lines(stdout).length >= 4)
      // Stopped: the drain ends the watcher's stream.
      expect((yield* Cli.stop(second)).code).toBe(0)
      const third = yield* again()
      yield* put(third.url, "s", "k6", { i: 6 })
      yield* watcher.until((stdout) => lines(stdout).length >= 5)
      watcher.child.kill("SIGTERM")
      const result = yield* watcher.exited
      expect(lines(result.stdout)).toEqual([2, 3, 4, 5, 6].map((i) => printed(i, `k${i}`, { i })))
    }), { timeout: 120_000 })

  it.scopedLive("with --prefix, prints the changes of those keys; fails in one line when it cannot begin", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const watcher = yield* Cli.start(["watch", "s", "--prefix", "a/", "--since", "0", "--url", server.url])
      for (const key of ["b/2", "a/1", "b/3", "a/2"]) yield* put(server.url, "s", key, key)
      yield* watcher.until((stdout) => lines(stdout).length >= 2)
      watcher.child.kill("SIGINT")
      expect(lines((yield* watcher.exited).stdout)).toEqual([printed(2, "a/1", "a/1"), printed(4, "a/2", "a/2")])

      const ahead = yield* Cli.run(["watch", "s", "--since", "99", "--url", server.url])
      expect(ahead.code).toBe(1)
      expect(ahead.stderr.trim()).toBe(
        "error: invalid query: since 99 is above the version of store \"s\", 4; watch from at most 4 (InvalidQuery)"
      )
      const nobody = yield* Cli.run(["watch", "s", "--url", "http://127.0.0.1:1"])
      expect(nobody.code).toBe(1)
      expect(nobody.stderr).toContain("cannot reach http://127.0.0.1:1")
    }))
})

describe("effect-kv watch against a server that takes the connection but never answers", () => {
  // As a server does between listening and attaching its handler, while it starts.
  const silent = Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer(() => {})
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

  it.scopedLive("gives the request up after 10 s instead of waiting forever", () =>
    Effect.gen(function*() {
      const server = yield* silent
      const { port } = server.address() as { readonly port: number }
      const url = `http://127.0.0.1:${port}`
      const result = yield* Cli.run(["watch", "s", "--url", url])
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(`error: cannot reach ${url} (no answer in 10s); start one with "effect-kv serve" or pass --url\n`)
    }), 60_000)
})

describe("effect-kv serve with open watches", () => {
  it.scopedLive("SIGTERM with 100 open watches: every stream ends and the server exits 0", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const watches = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => Sse.open(`${server.url}/stores/s${i % 10}/watch`),
        { concurrency: 10 }
      )
      yield* Effect.forEach(watches, (watch) => watch.until((blocks) => blocks.length >= 1), { discard: true })
      const started = performance.now()
      const result = yield* Cli.stop(server)
      console.log(`effect-kv serve with 100 open watches exited ${(performance.now() - started).toFixed(0)} ms after SIGTERM`)
      expect(result.code).toBe(0)
      expect(result.stdout.trimEnd().split("\n").at(-1)).toContain("effect-kv stopped")
      yield* Effect.forEach(watches, (watch) => watch.ended, { discard: true })
    }))
})

describe("effect-kv export --url", () => {
  it.scopedLive("exports a running server's stores as export lines, each store at one version", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      yield* put(server.url, "users", "bob", { name: "Bob" })
      yield* put(server.url, "users", "ada", { name: "Ada" })
      yield* put(server.url, "notes", "n1", "hello")
      const all = yield* Cli.run(["export", "--url", server.url])
      expect(all.code).toBe(0)
      expect(lines(all.stdout)).toEqual([
        JSON.stringify({ store: "notes", key: "n1", value: "hello" }),
        JSON.stringify({ store: "users", key: "ada", value: { name: "Ada" } }),
        JSON.stringify({ store: "users", key: "bob", value: { name: "Bob" } })
      ])
      const one = yield* Cli.run(["export", "users", "--url", server.url])
      expect(lines(one.stdout)).toHaveLength(2)
      const none = yield* Cli.run(["export", "nothing", "--url", server.url])
      expect(none.code).toBe(1)
      expect(none.stderr).toContain(`no store "nothing" holds data in ${server.url}`)
      // What it wrote imports into a folder as it is.
      const restored = yield* Cli.tempDir
      const imported = yield* Cli.run(["import", "--data-dir", restored], { input: all.stdout })
      expect(imported.stdout.trim()).toBe("imported 3 values into 2 stores: notes (1), users (2)")
    }))

  it.scopedLive("writes a key's deadline as expiresAt, which import puts back to the millisecond", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      expect((yield* Cli.run(["put", "sessions", "s1", "\"ada\"", "--ttl", "86400", "--url", server.url])).code).toBe(0)
      yield* put(server.url, "sessions", "s2", "alan")
      const deadline = yield* Effect.promise(() => fetch(`${server.url}/stores/sessions/keys/s1`))
      const expiresAt = Number(deadline.headers.get("kv-expires-at"))
      const exported = yield* Cli.run(["export", "--url", server.url])
      expect(lines(exported.stdout)).toEqual([
        JSON.stringify({ store: "sessions", key: "s1", value: "ada", expiresAt }),
        JSON.stringify({ store: "sessions", key: "s2", value: "alan" })
      ])
      const restored = yield* Cli.tempDir
      const imported = yield* Cli.run(["import", "--data-dir", restored], { input: exported.stdout })
      expect(imported.stdout).toBe("imported 2 values into 1 store: sessions (2)\n")
      // The restored folder exports what the server did: one format, the deadline kept.
      expect((yield* Cli.run(["export", "--data-dir", restored])).stdout).toBe(exported.stdout)
    }))
})
