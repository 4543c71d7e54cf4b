import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Server from "../../src/http/Server.js"
import { KV } from "../../src/kv/KV.js"
import { request, serve } from "./server.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-kv-http-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Whether a new connection to `base` is refused. */
const refused = (base: string) =>
  Effect.promise(() => fetch(`${base}/health`).then(() => false, () => true))

/**
 * Starts a PUT on a keep-alive connection and waits until the server has its headers (it
 * answered `100 Continue`); `finish` sends the body and waits for the status.
 */
const startPut = (base: string, path: string, body: string) =>
  Effect.async<{ readonly finish: Effect.Effect<number> }>((resume) => {
    const req = Http.request(`${base}${path}`, {
      method: "PUT",
      agent: new Http.Agent({ keepAlive: true }),
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), expect: "100-continue" }
    })
    const status = new Promise<number>((settle, reject) => {
      req.on("response", (response) => {
        response.resume()
        response.on("end", () => settle(response.statusCode ?? 0))
      })
      req.on("error", reject)
    })
    req.on("continue", () => resume(Effect.succeed({ finish: Effect.promise(() => (req.end(body), status)) })))
    req.flushHeaders()
  })

describe("server lifecycle", () => {
  it.scopedLive("closing the server stops accepting, finishes the requests in flight, then ends", () =>
    Effect.gen(function*() {
      const kv = yield* Layer.build(KV.layerMemory())
      const scope = yield* Scope.make()
      const base = yield* serve({}, Layer.succeedContext(kv)).pipe(Scope.extend(scope))
      const inFlight = yield* startPut(base, "/stores/s/keys/k", "\"written during shutdown\"")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      // Not timed: poll until the listening socket is gone.
      while (!(yield* refused(base))) yield* Effect.yieldNow()
      expect(yield* inFlight.finish).toBe(200)
      yield* Fiber.join(closing)
      expect(yield* Context.get(kv, KV).get("s", "k")).toEqual(Option.some("written during shutdown"))
    }))

  it.scopedLive("a PUT acknowledged with sync \"always\" is there after the server is closed and reopened", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const run = <A, E>(use: (base: string) => Effect.Effect<A, E>) =>
        Effect.scoped(Effect.flatMap(serve({}, KV.layer({ dataDir, sync: "always" })), use))
      const put = yield* run((base) => request(base, "PUT", "/stores/durable/keys/k", { body: { n: 1 } }))
      expect(put.status).toBe(200)
      const get = yield* run((base) => request(base, "GET", "/stores/durable/keys/k"))
      expect([get.status, get.json, get.headers.get("etag")]).toEqual([200, { n: 1 }, `"${(put.json as { version: number }).version}"`])
    }))

  it.scopedLive("started in the tree, the server is its last child and stops before the stores close", () =>
    Effect.gen(function*() {
      const kv = Context.get(yield* Layer.build(KV.layerMemory()), KV)
      const address = yield* Server.startInTree({ port: 0 }).pipe(Effect.provideService(KV, kv))
      if (address._tag !== "TcpAddress") return expect.fail("a TCP address")
      const base = `http://127.0.0.1:${address.port}`
      expect((yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })).status).toBe(200)
      const children = yield* kv.supervisor.whichChildren
      expect(children.map((child) => child.id)).toEqual(["storage", "stores", "http"])
      yield* kv.supervisor.terminateChild("http")
      expect(yield* refused(base)).toBe(true)
      expect(yield* kv.get("s", "k")).toEqual(Option.some(1))
    }))
})
