import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { KV } from "../../src/kv/KV.js"
import * as Cli from "./cli.js"

const stopped = "effect-kv stopped: requests in flight answered, every store's log closed"

describe("effect-kv serve", () => {
  it.scopedLive("says where it listens and what folder it serves", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const server = yield* Cli.serve(Path.join(dir, "data"))
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(yield* Cli.request(`${server.url}/health`)).toEqual({ status: 200, body: "{\"status\":\"ok\"}" })
      const result = yield* Cli.stop(server)
      expect(result.stdout.split("\n")[0]).toBe(`effect-kv listening on ${server.url}, data in ${Path.join(dir, "data")}`)
      expect(result.stdout.trimEnd().split("\n").at(-1)).toBe(stopped)
    }))

  it.scopedLive("serves the web console from the build: /ui and every file of it, as in the sources", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const sources = new URL("../../src/http/console/", import.meta.url)
      const files = Fs.readdirSync(sources)
      expect(files).toContain("console.js")
      for (const file of files) {
        const served = yield* Cli.request(`${server.url}/ui${file === "index.html" ? "" : `/${file}`}`)
        expect({ file, ...served }).toEqual({ file, status: 200, body: Fs.readFileSync(new URL(file, sources), "utf8") })
      }
    }))

  it.scopedLive("--cors-origin (or KV_CORS_ORIGIN) lets a browser app on another origin call it", () =>
    Effect.gen(function*() {
      const preflight = (url: string, origin: string) =>
        Effect.promise(() =>
          fetch(`${url}/stores/s/keys/k`, {
            method: "OPTIONS",
            headers: { origin, "access-control-request-method": "PUT" }
          }).then((response) => [response.status, response.headers.get("access-control-allow-origin")])
        )
      const fromOption = yield* Cli.serve(yield* Cli.tempDir, ["--cors-origin", "https://a.example, https://b.example"])
      expect(yield* preflight(fromOption.url, "https://b.example")).toEqual([204, "https://b.example"])
      const fromEnv = yield* Cli.serve(yield* Cli.tempDir, [], { env: { KV_CORS_ORIGIN: "*" } })
      expect(yield* preflight(fromEnv.url, "https://c.example")).toEqual([204, "*"])
      const off = yield* Cli.serve(yield* Cli.tempDir)
      expect((yield* preflight(off.url, "https://c.example"))[0]).toBe(405)
    }))

  it.scopedLive.each(["SIGTERM", "SIGINT"] as const)("npm start, then %s to npm: the server stops cleanly and says so", (signal) =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const server = yield* Cli.npmStart({ KV_DATA_DIR: dir, KV_PORT: "0" })
      expect((yield* Cli.request(`${server.url}/health`)).status).toBe(200)
      expect(Fs.existsSync(Path.join(dir, "LOCK"))).toBe(true)
      const result = yield* Cli.stop(server, signal)
      // npm waits for its script: the server has stopped and let go of the folder by now.
      const lock = Path.join(dir, "LOCK")
      const holder = Fs.existsSync(lock) ? Number(Fs.readFileSync(lock, "utf8").trim()) : undefined
      if (holder !== undefined) process.kill(holder, "SIGKILL")
      expect(holder).toBe(undefined)
      expect(result.stdout.trimEnd().split("\n").at(-1)).toBe(stopped)
      expect(Exit.isFailure(yield* Effect.exit(Cli.request(`${server.url}/health`)))).toBe(true)
    }), { timeout: 120_000 })

  it.scopedLive("takes every option from KV_* environment variables", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const server = yield* Cli.serveWith([], {
        cwd: dir,
        env: { KV_DATA_DIR: "from-env", KV_HOST: "127.0.0.1", KV_PORT: "0", KV_SYNC: "none", KV_TOKEN: "t0ken", KV_TIMEOUT: "2.5" }
      })
      expect((yield* Cli.request(`${server.url}/stores`)).status).toBe(401)
      const put = yield* Cli.run(["put", "s", "k", "1"], { env: { KV_URL: server.url, KV_TOKEN: "t0ken" } })
      expect(put.code).toBe(0)
      expect(Fs.existsSync(Path.join(dir, "from-env"))).toBe(true)
      const result = yield* Cli.stop(server)
      expect(result.stdout).toContain(`data in ${Path.join(dir, "from-env")}`)
    }))

  it.scopedLive("--no-fast-path (or KV_NO_FAST_PATH) answers every request through the declared API", () =>
    Effect.gen(function*() {
      // What the fast path answered, as /metrics counts it: the process's counter is made with the fast path.
      const answered = (url: string) =>
        Effect.gen(function*() {
          yield* Cli.request(`${url}/stores/s/keys/k`, { method: "PUT", body: "1", headers: { "content-type": "application/json" } })
          expect((yield* Cli.request(`${url}/stores/s/keys/k`)).body).toBe("1")
          const metrics = (yield* Cli.request(`${url}/metrics`)).body
          return Number(/^effect_kv_http_fast_path_requests_total (\d+)$/m.exec(metrics)?.[1] ?? 0)
        })
      const fast = yield* Cli.serve(yield* Cli.tempDir, ["--metrics-public"])
      expect(yield* answered(fast.url)).toBe(2)
      const declared = yield* Cli.serve(yield* Cli.tempDir, ["--metrics-public", "--no-fast-path"])
      expect(yield* answered(declared.url)).toBe(0)
      const fromEnv = yield* Cli.serve(yield* Cli.tempDir, ["--metrics-public"], { env: { KV_NO_FAST_PATH: "true" } })
      expect(yield* answered(fromEnv.url)).toBe(0)
    }))

  it.scopedLive("a bad KV_SYNC is a usage error", () =>
    Effect.gen(function*() {
      const result = yield* Cli.run(["serve", "--port", "0"], { env: { KV_SYNC: "sometimes" } })
      expect(result.code).toBe(2)
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
    }))

  it.scopedLive("a folder another server holds is refused in one line", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      yield* Cli.serve(dir)
      const second = yield* Cli.run(["serve", "--data-dir", dir, "--port", "0"])
      expect(second.code).toBe(1)
      expect(second.stderr).toMatch(/^error: .* is in use by process \d+/)
      expect(second.stderr.trimEnd().split("\n")).toHaveLength(1)
    }))

  it.scopedLive("SIGTERM with writes in flight: exits 0 and every acknowledged write is on disk", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const server = yield* Cli.serve(dir)
      const acknowledged: Array<number> = []
      const enoughAcknowledged = yield* Deferred.make<void>()
      let next = 0
      // Each writer puts one key after another until the server stops answering, so writes are
      // in flight whenever the signal lands.
      const writer = Effect.gen(function*() {
        while (true) {
          const i = next++
          const response = yield* Effect.tryPromise(async () => {
            const response = await fetch(`${server.url}/stores/s${i % 5}/keys/k${i}`, {
              method: "PUT",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ i })
            })
            await response.arrayBuffer()
            return response.status
          }).pipe(Effect.option)
          if (response._tag === "None" || response.value !== 200) return // refused or cut off: not acknowledged
          acknowledged.push(i)
          if (acknowledged.length === 200) yield* Deferred.succeed(enoughAcknowledged, undefined)
        }
      })
      const writers = yield* Effect.fork(Effect.all(Array.from({ length: 32 }, () => writer), { concurrency: "unbounded" }))
      yield* Deferred.await(enoughAcknowledged)
      const result = yield* Cli.stop(server)
      yield* writers.await
      expect(result.code).toBe(0)
      expect(result.signal).toBe(null)
      // Shut down cleanly: the lock is given back.
      expect(Fs.existsSync(Path.join(dir, "LOCK"))).toBe(false)

      const onDisk = yield* Effect.gen(function*() {
        const kv = yield* KV
        return yield* Effect.forEach(acknowledged, (i) => kv.get(`s${i % 5}`, `k${i}`))
      }).pipe(Effect.provide(KV.layer({ dataDir: dir })))
      expect(onDisk).toEqual(acknowledged.map((i) => Option.some({ i })))
    }))
})
