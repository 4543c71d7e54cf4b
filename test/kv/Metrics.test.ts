/**
 * The metrics `KV` keeps: each operation counted by store, kind and outcome, writes timed, the
 * gauges of the present set when sampled, and nothing counted with `metrics: false`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Scope, Stream, TestClock } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as Metrics from "../../src/kv/Metrics.js"
import * as StorageMetrics from "../../src/storage/Metrics.js"
import { onTempDir, tempDir } from "../storage/fixtures/TempDir.js"
import { kvWith, makeControl } from "./crashable.js"

const count = (store: string, kind: string, outcome: string) =>
  Effect.map(
    Metric.value(Metrics.operations.pipe(Metric.tagged("store", store), Metric.tagged("kind", kind), Metric.tagged("outcome", outcome))),
    (state) => state.count
  )

const timedCalls = (store: string, kind: string) =>
  Effect.map(Metric.value(Metrics.callDuration.pipe(Metric.tagged("store", store), Metric.tagged("kind", kind))), (state) => state.count)

const gauge = (metric: Metric.Metric.Gauge<number>, store?: string) =>
  Effect.map(Metric.value(store === undefined ? metric : metric.pipe(Metric.tagged("store", store))), (state) => state.value)

// Stores are named for the test, as Effect's registry is one for the whole process.
const implementations: ReadonlyArray<readonly [string, (options?: KVOptions) => Layer.Layer<KV, unknown>]> = [
  ["memory", (options) => KV.layerMemory(options)],
  ["file", (options) => onTempDir((dataDir) => KV.layer({ ...options, dataDir }))]
]

for (const [storage, makeLayer] of implementations) describe(`Metrics on ${storage} storage`, () => {
  const store = `metrics-${storage}`

  it.effect("counts each operation by store, kind and outcome, and times writes", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const version = yield* kv.put(store, "a", 1)
      yield* kv.put(store, "a", 2, { expectedVersion: version }).pipe(Effect.ignore)
      yield* kv.put(store, "a", 3, { expectedVersion: version }).pipe(Effect.ignore) // VersionMismatch
      yield* kv.get(store, "a")
      yield* kv.get(store, "missing")
      yield* kv.get(store, "").pipe(Effect.ignore) // InvalidKey
      yield* kv.getEntry(store, "a")
      yield* kv.has(store, "a")
      yield* kv.delete(store, "a")
      yield* kv.keys(store)
      yield* kv.size(store)
      yield* kv.entries(store, { limit: 1 })
      yield* kv.entries(store, { limit: -1 }).pipe(Effect.ignore) // InvalidQuery
      yield* kv.exportStore(store)
      expect(yield* count(store, "put", "ok")).toBe(2)
      expect(yield* count(store, "entries", "ok")).toBe(1)
      expect(yield* count(store, "entries", "InvalidQuery")).toBe(1)
      expect(yield* count(store, "exportStore", "ok")).toBe(1)
      expect(yield* count(store, "put", "VersionMismatch")).toBe(1)
      expect(yield* count(store, "get", "ok")).toBe(2)
      expect(yield* count(store, "get", "InvalidKey")).toBe(1)
      expect(yield* count(store, "getEntry", "ok")).toBe(1)
      expect(yield* count(store, "has", "ok")).toBe(1)
      expect(yield* count(store, "delete", "ok")).toBe(1)
      expect(yield* count(store, "keys", "ok")).toBe(1)
      expect(yield* count(store, "size", "ok")).toBe(1)
      expect(yield* timedCalls(store, "put")).toBe(3)
      expect(yield* timedCalls(store, "delete")).toBe(1)
    }).pipe(Effect.provide(makeLayer())))

  it.effect("with metrics: false counts nothing", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put(`${store}-off`, "a", 1)
      yield* kv.get(`${store}-off`, "a")
      expect(yield* count(`${store}-off`, "put", "ok")).toBe(0)
      expect(yield* count(`${store}-off`, "get", "ok")).toBe(0)
    }).pipe(Effect.provide(makeLayer({ metrics: false }))))
})

describe("Metrics of the storage writers", () => {
  // Every writer's series together: which writer a store has depends on its name's hash.
  const total = (metric: typeof StorageMetrics.batchRecords) =>
    Effect.map(
      Effect.forEach([0, 1, 2, 3], (writer) => Metric.value(Metric.tagged(metric, "writer", String(writer)))),
      (states) => ({ count: states.reduce((n, state) => n + state.count, 0), sum: states.reduce((n, state) => n + state.sum, 0) })
    )

  it.scoped("each writer's batch sizes and fsync latencies; none with metrics: false", () =>
    Effect.gen(function*() {
      const batchesBefore = yield* total(StorageMetrics.batchRecords)
      const fsyncsBefore = yield* total(StorageMetrics.fsyncDuration)
      const kv = yield* Effect.provide(KV, yield* Layer.build(KV.layer({ dataDir: yield* tempDir })))
      yield* Effect.forEach([1, 2, 3], (n) => kv.put("metrics-writer", `k${n}`, n), { concurrency: "unbounded" })
      const batches = yield* total(StorageMetrics.batchRecords)
      expect(batches.sum - batchesBefore.sum).toBe(3) // three records, in one batch or more
      expect(batches.count - batchesBefore.count).toBeGreaterThanOrEqual(1)
      const fsyncs = yield* total(StorageMetrics.fsyncDuration)
      expect(fsyncs.count - fsyncsBefore.count).toBe(batches.count - batchesBefore.count) // sync "always": one per batch
      const off = yield* Effect.provide(KV, yield* Layer.build(KV.layer({ dataDir: yield* tempDir, metrics: false })))
      yield* off.put("metrics-writer-off", "k", 1)
      expect((yield* total(StorageMetrics.batchRecords)).count).toBe(batches.count)
      expect((yield* total(StorageMetrics.fsyncDuration)).count).toBe(fsyncs.count)
    }))
})

describe("Metrics of a store that fails", () => {
  it.effect("a read of a store given up on counts as StoreFailed, a write it crashed under as OutcomeUnknown", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("metrics-failing", "k", 1)
      control.failing.add("metrics-failing")
      for (let i = 0; i < 4; i++) yield* Effect.ignore(kv.put("metrics-failing", "x", i))
      expect(yield* count("metrics-failing", "put", "OutcomeUnknown")).toBe(4)
      yield* Effect.ignore(kv.get("metrics-failing", "k"))
      yield* Effect.ignore(kv.has("metrics-failing", "k"))
      expect(yield* count("metrics-failing", "get", "StoreFailed")).toBe(1)
      expect(yield* count("metrics-failing", "has", "StoreFailed")).toBe(1)
      expect(yield* count("metrics-failing", "get", "ok")).toBe(0)
    }).pipe(Effect.provide(kvWith(control)))
  })
})

describe("Metrics gauges", () => {
  it.scopedLive("sample sets open stores and each store's mailbox depth", () =>
    Effect.gen(function*() {
      const control = makeControl()
      const kv = yield* Effect.provide(KV, yield* Layer.build(kvWith(control, { maxBatch: 1 })))
      const before = yield* Effect.zipRight(Metrics.sample, gauge(Metrics.openStores))
      yield* kv.put("gauge-a", "k", 1)
      yield* kv.put("gauge-b", "k", 1)
      yield* Metrics.sample
      expect(yield* gauge(Metrics.openStores)).toBe(before + 2)
      expect(yield* gauge(Metrics.mailboxDepth, "gauge-a")).toBe(0)
      // With its append held, the store's first write is in hand and the next two wait.
      const gate = yield* Deferred.make<void>()
      control.gate = gate
      const writes = yield* Effect.forEach([1, 2, 3], (n) => Effect.fork(kv.put("gauge-a", "k", n)))
      const depth = Effect.zipRight(Metrics.sample, gauge(Metrics.mailboxDepth, "gauge-a"))
      while ((yield* depth) < 2) yield* Effect.sleep("1 millis")
      expect(yield* depth).toBe(2)
      control.gate = undefined
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(Fiber.all(writes))
      expect(yield* depth).toBe(0)
      yield* kv.dropStore("gauge-b")
      yield* Metrics.sample
      expect(yield* gauge(Metrics.openStores)).toBe(before + 1)
    }))

  it.scoped("sample sets each store's watchers, back to 0 when its watches end", () =>
    Effect.gen(function*() {
      const kv = yield* Effect.provide(KV, yield* Layer.build(KV.layerMemory()))
      const watchers = (store: string) => Effect.zipRight(Metrics.sample, gauge(Metrics.watchers, store))
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      yield* Scope.extend(kv.subscribe("watched-a", { prefix: "x" }), first)
      yield* Scope.extend(kv.subscribe("watched-a"), second)
      yield* Scope.extend(kv.subscribe("watched-b"), second)
      expect([yield* watchers("watched-a"), yield* watchers("watched-b")]).toEqual([2, 1])
      yield* Scope.close(first, Exit.void)
      expect([yield* watchers("watched-a"), yield* watchers("watched-b")]).toEqual([1, 1])
      // A watch as a stream counts while it runs.
      const received = yield* Deferred.make<void>()
      const streaming = yield* Effect.fork(Stream.runForEach(kv.watch("watched-b"), () => Deferred.succeed(received, undefined)))
      while ((yield* watchers("watched-b")) < 2) yield* Effect.yieldNow()
      yield* kv.put("watched-b", "k", 1)
      yield* Deferred.await(received)
      yield* Fiber.interrupt(streaming)
      yield* Scope.close(second, Exit.void)
      expect([yield* watchers("watched-a"), yield* watchers("watched-b")]).toEqual([0, 0])
    }))

  it.effect("expiries counts the keys removed because their expiry passed", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const before = (yield* Metric.value(Metrics.expiries)).count
      yield* kv.put("expiring", "a", 1, { ttl: "1 second" })
      yield* kv.put("expiring", "b", 1, { ttl: "1 second" })
      yield* kv.put("expiring", "c", 1)
      yield* TestClock.adjust("1 second")
      while ((yield* Metric.value(Metrics.expiries)).count - before < 2) yield* Effect.yieldNow()
      yield* kv.put("expiring", "c", 2)
      expect((yield* Metric.value(Metrics.expiries)).count - before).toBe(2)
    }).pipe(Effect.provide(KV.layerMemory())))
})
