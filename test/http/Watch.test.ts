/**
 * The change feed over HTTP (`GET /stores/{store}/watch`, Server-Sent Events) through a real
 * server and a real client, and the routes that read a store whole: `entries` and `export`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"
import { KV } from "../../src/kv/KV.js"
import { request, serve } from "./server.js"
import * as Sse from "./sse.js"

const eventCount = (count: number) => (blocks: ReadonlyArray<Sse.SseBlock>) =>
  blocks.filter((block) => block.event !== undefined).length >= count

describe("GET /stores/{store}/watch", () => {
  it.scopedLive("sends each change as an event, and resumes after a disconnect from Last-Event-ID", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      yield* request(base, "PUT", "/stores/s/keys/a", { body: { n: 1 } })
      const first = yield* Sse.open(`${base}/stores/s/watch?since=0`)
      expect(first.status).toBe(200)
      expect(first.headers.get("content-type")).toMatch(/^text\/event-stream/)
      expect(first.headers.get("cache-control")).toBe("no-cache")
      yield* first.until(eventCount(1))
      yield* request(base, "PUT", "/stores/s/keys/b%20c", { raw: "text", headers: { "content-type": "text/plain" } })
      yield* request(base, "DELETE", "/stores/s/keys/a")
      yield* first.until(eventCount(3))
      // The stream opens with the version it starts after.
      expect(first.blocks[0]).toEqual({ id: "0" })
      expect(first.events()).toEqual([
        [1, "put", { key: "a", value: { n: 1 }, version: 1 }],
        [2, "put", { key: "b c", value: "text", version: 2 }],
        [3, "delete", { key: "a", version: 3 }]
      ])
      yield* first.close
      yield* request(base, "PUT", "/stores/s/keys/d", { body: [1, 2] })
      yield* request(base, "PUT", "/stores/s/keys/e", { body: null })
      // As a browser's EventSource reconnects: the last id it saw, which wins over `since`.
      const resumed = yield* Sse.open(`${base}/stores/s/watch?since=1`, { "last-event-id": "3" })
      yield* resumed.until(eventCount(2))
      expect(resumed.blocks[0]).toEqual({ id: "3" })
      expect(resumed.events()).toEqual([
        [4, "put", { key: "d", value: [1, 2], version: 4 }],
        [5, "put", { key: "e", value: null, version: 5 }]
      ])
    }))

  it.scopedLive("with a prefix, sends the changes of its keys and every clear; a store that holds nothing is an open stream", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const watch = yield* Sse.open(`${base}/stores/fresh/watch?prefix=a%2F`)
      expect(watch.status).toBe(200)
      yield* watch.until((blocks) => blocks.length >= 1)
      expect(watch.blocks[0]).toEqual({ id: "0" })
      for (const key of ["a%2F1", "b%2F1", "a%2F2"]) yield* request(base, "PUT", `/stores/fresh/keys/${key}`, { body: key })
      yield* request(base, "DELETE", "/stores/fresh/keys/b%2F1")
      yield* request(base, "PUT", "/stores/other/keys/a%2Fx", { body: 1 })
      yield* watch.until(eventCount(2))
      // A clear: DELETE of the store drops it, and ends its watches.
      yield* request(base, "DELETE", "/stores/fresh")
      yield* watch.ended
      expect(watch.events()).toEqual([
        [1, "put", { key: "a/1", value: "a%2F1", version: 1 }],
        [3, "put", { key: "a/2", value: "a%2F2", version: 3 }]
      ])
    }))

  it.scopedLive("refuses a watch that cannot begin: 410 when its history is gone, 400 for a since that is not a version of the store", () =>
    Effect.gen(function*() {
      const base = yield* serve({}, KV.layerMemory({ watchHistory: 5, watchBuffer: 5 }))
      for (let i = 0; i < 20; i++) yield* request(base, "PUT", `/stores/s/keys/k${i}`, { body: i })
      const gone = yield* request(base, "GET", "/stores/s/watch?since=3")
      expect([gone.status, (gone.json as { error: string }).error]).toEqual([410, "HistoryCompacted"])
      expect((gone.json as { message: string }).message).toContain("the oldest version to watch from is 15")
      const ahead = yield* request(base, "GET", "/stores/s/watch", { headers: { "last-event-id": "21" } })
      expect([ahead.status, (ahead.json as { error: string }).error]).toEqual([400, "InvalidQuery"])
      const bad = yield* request(base, "GET", "/stores/s/watch?since=ten")
      expect(bad.status).toBe(400)
      expect((bad.json as { message: string }).message).toBe("since: send a version, a whole number as in ?since=42; got \"ten\"")
      const badHeader = yield* request(base, "GET", "/stores/s/watch", { headers: { "last-event-id": "x" } })
      expect((badHeader.json as { message: string }).message).toContain("Last-Event-ID: send a version")
      expect((yield* request(base, "GET", "/stores/s/watch?since=15", { headers: { "last-event-id": "3" } })).status).toBe(410)
    }))

  it.scopedLive("sends a touch for each /ttl route, one atomic event for an atomic write, and an expire when a deadline passes", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const watch = yield* Sse.open(`${base}/stores/s/watch?since=0`)
      yield* request(base, "PUT", "/stores/s/keys/kept", { body: "k" })
      yield* request(base, "PUT", "/stores/s/keys/kept/ttl", { body: { ttl: 3600 } })
      yield* request(base, "DELETE", "/stores/s/keys/kept/ttl")
      const atomic = yield* request(base, "POST", "/stores/s/atomic", {
        body: { ops: [{ op: "put", key: "a", value: 1, ttl: 60 }, { op: "increment", key: "n", by: 2 }, { op: "delete", key: "kept" }] }
      })
      expect(atomic.json).toEqual({ version: 4 })
      // Written last, so that nothing else comes between it and its expiry.
      yield* request(base, "PUT", "/stores/s/keys/brief?ttl=0.05", { body: "b" })
      yield* watch.until(eventCount(6))
      expect(watch.events()).toEqual([
        [1, "put", { key: "kept", value: "k", version: 1 }],
        [2, "touch", { key: "kept", version: 2, expiresAt: expect.any(Number) }],
        [3, "touch", { key: "kept", version: 3, expiresAt: null }],
        [4, "atomic", {
          version: 4,
          changes: [
            { op: "put", key: "a", value: 1, expiresAt: expect.any(Number) },
            { op: "put", key: "n", value: 2 },
            { op: "delete", key: "kept" }
          ]
        }],
        [5, "put", { key: "brief", value: "b", version: 5, expiresAt: expect.any(Number) }],
        [6, "expire", { key: "brief", version: 6 }]
      ])
    }))

  it.scopedLive("a watcher that falls behind gets an error event, then the end of the stream", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const base = yield* serve({}, Layer.succeed(KV, kv))
      yield* kv.put("s", "first", 0)
      const watch = yield* Sse.open(`${base}/stores/s/watch`)
      yield* watch.until((blocks) => blocks.length >= 1)
      // A burst of writes, one batch, larger than the buffer before the watcher reads again.
      yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => kv.put("s", `k${i}`, i), {
        concurrency: "unbounded",
        discard: true
      })
      yield* watch.ended
      const last = watch.blocks.at(-1)!
      expect(last.event).toBe("error")
      expect(JSON.parse(last.data!)).toMatchObject({ error: "WatchLagged" })
      expect(JSON.parse(last.data!).message).toMatch(/watch again with since \d+/)
    }).pipe(Effect.provide(KV.layerMemory({ watchBuffer: 10 }))))

  it.scoped("sends a comment every 15 seconds while nothing happens", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const watch = yield* Sse.open(`${base}/stores/quiet/watch`)
      yield* watch.until((blocks) => blocks.length >= 1)
      yield* TestClock.adjust("14 seconds")
      expect(watch.blocks.some((block) => block.comment !== undefined)).toBe(false)
      yield* TestClock.adjust("1 second")
      yield* watch.until((blocks) => blocks.some((block) => block.comment === "keep-alive"))
      yield* TestClock.adjust("15 seconds")
      yield* watch.until((blocks) => blocks.filter((block) => block.comment === "keep-alive").length === 2)
    }))

  it.scopedLive("ends every open watch when the server closes, which then stops at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const base = yield* Scope.extend(serve(), scope)
      const watches = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        Sse.open(`${base}/stores/s${i % 3}/watch`))
      yield* Effect.forEach(watches, (watch) => watch.until((blocks) => blocks.length >= 1), { discard: true })
      const started = performance.now()
      yield* Scope.close(scope, Exit.void)
      console.log(`server with 20 open watches closed in ${(performance.now() - started).toFixed(0)} ms`)
      yield* Effect.forEach(watches, (watch) => watch.ended, { discard: true })
    }))
})

describe("GET /stores/{store}/entries and /export", () => {
  it.scopedLive("entries: a page of values with their keys, and the version it was read at", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      for (const key of ["b", "a", "c"]) yield* request(base, "PUT", `/stores/s/keys/${key}`, { body: { key } })
      const page = yield* request(base, "GET", "/stores/s/entries?limit=2")
      expect(page.json).toEqual({
        entries: [{ key: "a", value: { key: "a" }, version: 2 }, { key: "b", value: { key: "b" }, version: 1 }],
        next: "b",
        version: 3
      })
      expect((yield* request(base, "GET", "/stores/s/entries?after=b&prefix=c")).json).toEqual({
        entries: [{ key: "c", value: { key: "c" }, version: 3 }],
        next: null,
        version: 3
      })
      expect((yield* request(base, "GET", "/stores/empty/entries")).json).toEqual({ entries: [], next: null, version: 0 })
      expect((yield* request(base, "GET", "/stores/s/entries?limit=0")).status).toBe(400)
    }))

  it.scopedLive("export: every entry as a JSON line, in key order, with the version in KV-Version", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const base = yield* serve({}, Layer.succeed(KV, kv))
      // More keys than one chunk of the response's stream.
      const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`)
      yield* Effect.forEach(keys, (key, i) => kv.put("s", key, { i }), { concurrency: 100, discard: true })
      const exported = yield* request(base, "GET", "/stores/s/export")
      expect(exported.status).toBe(200)
      expect(exported.headers.get("content-type")).toMatch(/^application\/x-ndjson/)
      expect(exported.headers.get("kv-version")).toBe("10000")
      const lines = exported.text.trimEnd().split("\n").map((line) => JSON.parse(line))
      expect(lines).toEqual([...keys].sort().map((key) => ({ key, value: { i: Number(key.slice(1)) } })))
      const empty = yield* request(base, "GET", "/stores/nothing/export")
      expect([empty.status, empty.text, empty.headers.get("kv-version")]).toEqual([200, "", "0"])
    }).pipe(Effect.provide(KV.layerMemory())))

  it.scopedLive("export while writes go on: exactly the store at its KV-Version, nothing from after it", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const base = yield* serve({}, Layer.succeed(KV, kv))
      // One writer in order, so that the key written at version v is w<v> and holds v. It waits
      // halfway for one export, so that at least one is taken with writes still to come.
      const writes = 2_000
      const exportedOnce = yield* Deferred.make<void>()
      const write = (version: number) => kv.put("s", `w${String(version).padStart(5, "0")}`, version)
      const writer = yield* Effect.fork(Effect.forEach(Array.from({ length: writes }, (_, i) => i + 1), (version) =>
        version === writes / 2 ? Effect.zipRight(Deferred.await(exportedOnce), write(version)) : write(version), {
        discard: true
      }))
      const seen: Array<number> = []
      while ((yield* kv.size("s")) < writes) {
        const exported = yield* request(base, "GET", "/stores/s/export")
        const at = Number(exported.headers.get("kv-version"))
        const lines = exported.text === "" ? [] : exported.text.trimEnd().split("\n").map((line) => JSON.parse(line))
        expect(lines).toEqual(Array.from({ length: at }, (_, i) => ({ key: `w${String(i + 1).padStart(5, "0")}`, value: i + 1 })))
        seen.push(at)
        yield* Deferred.succeed(exportedOnce, undefined)
      }
      yield* Fiber.join(writer)
      expect(seen.some((at) => at < writes)).toBe(true)
    }).pipe(Effect.provide(KV.layerMemory())))
})
