/**
 * Keys that expire, on `TestClock` (and, where a test must stop time or turn it back, on a clock
 * of its own): never visible after their deadline, expired by the store itself as `Expire`
 * changes in its log, kept through a restart, extended and removed.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Layer, Metric, Option, TestClock } from "effect"
import { KV, type PutOptions } from "../../src/kv/KV.js"
import { expiredKeys } from "../../src/kv/Store.js"
import * as Storage from "../../src/storage/Storage.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { changesOf, expiries, recording } from "./fixtures/Recording.js"

/** `KV` on the recorded `storage`, built in the current scope with the clock in context. */
const build = <E>(storage: Layer.Layer<Storage.Storage, E>) =>
  Effect.map(Layer.build(KV.layerFrom(storage)), Context.get(KV))

const onDisk = (dataDir: string) => Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer))

/** A clock that reads `now()` and whose sleeps never end: the store's timer never fires. */
const stoppedClock = (now: () => number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: now,
  currentTimeMillis: Effect.sync(now),
  unsafeCurrentTimeNanos: () => BigInt(now()) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
  sleep: () => Effect.never
})

describe("expiry", () => {
  it.scoped("a key is there until its deadline, then gone from every read; the store writes its Expire", () =>
    Effect.gen(function*() {
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer)
      const start = yield* Clock.currentTimeMillis
      const version = yield* kv.put("s", "k", "v", { ttl: "10 seconds" })
      yield* kv.put("s", "stays", 1)
      expect(yield* kv.getEntry("s", "k")).toEqual(Option.some({ value: "v", version, expiresAt: start + 10_000 }))
      yield* TestClock.adjust("9999 millis")
      expect(yield* kv.get("s", "k")).toEqual(Option.some("v"))
      yield* TestClock.adjust("1 millis")
      expect(yield* kv.get("s", "k")).toEqual(Option.none())
      expect(yield* kv.getEntry("s", "k")).toEqual(Option.none())
      expect(yield* kv.has("s", "k")).toBe(false)
      expect(yield* kv.size("s")).toBe(1)
      expect((yield* kv.keys("s")).keys).toEqual(["stays"])
      // No write comes: the store's timer has it write the expiry.
      yield* recorded.until((recorded) => expiries(recorded, "s") === 1)
      expect(changesOf(recorded, "s").at(-1)).toEqual({ _tag: "Expire", key: "k", version: version + 2 })
      expect(yield* kv.size("s")).toBe(1)
    }))

  it.scoped("reads hide a key past its deadline before its Expire is written; the next batch writes it first", () =>
    Effect.gen(function*() {
      let now = 1_000_000
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer).pipe(Effect.withClock(stoppedClock(() => now)))
      const version = yield* kv.put("s", "k", "v", { ttl: "1 second" })
      now += 1000
      expect(yield* kv.get("s", "k")).toEqual(Option.none())
      expect(yield* kv.has("s", "k")).toBe(false)
      expect(yield* kv.size("s")).toBe(0)
      expect(yield* kv.storeInfo("s")).toEqual({ size: 0, version })
      expect((yield* kv.keys("s")).keys).toEqual([])
      // Turned back, the clock shows the key again: the reads decided, nothing was written.
      now -= 1
      expect(yield* kv.get("s", "k")).toEqual(Option.some("v"))
      expect(expiries(recorded, "s")).toBe(0)
      now += 1
      // A write finds the key absent: its batch expires it first.
      const again = yield* kv.put("s", "k", "again", { ifAbsent: true })
      expect(recorded.batches.at(-1)?.changes).toEqual([
        { _tag: "Expire", key: "k", version: version + 1 },
        { _tag: "Put", key: "k", value: "again", json: "\"again\"", version: again, expiresAt: undefined }
      ])
      now -= 1
      expect(yield* kv.get("s", "k")).toEqual(Option.some("again"))
    }))

  it.scoped("entries and exportStore leave out a key past its deadline before its Expire is written", () =>
    Effect.gen(function*() {
      let now = 1_000_000
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer).pipe(Effect.withClock(stoppedClock(() => now)))
      yield* kv.put("s", "a", 1)
      yield* kv.put("s", "due", 2, { ttl: "1 second" })
      const last = yield* kv.put("s", "later", 3, { ttl: "1 hour" })
      now += 1000
      const page = yield* kv.entries("s")
      expect(page).toEqual({
        entries: [
          { key: "a", value: 1, version: 1, expiresAt: undefined },
          { key: "later", value: 3, version: last, expiresAt: 1_000_000 + 3_600_000 }
        ],
        next: Option.none(),
        version: last
      })
      expect((yield* kv.entries("s", { prefix: "d" })).entries).toEqual([])
      const exported = yield* kv.exportStore("s")
      expect([exported.version, exported.size, [...exported.entries].map(([key]) => key)]).toEqual([last, 2, ["a", "later"]])
      // The reads decided: nothing was written.
      expect(expiries(recorded, "s")).toBe(0)
      now -= 1
      expect((yield* kv.entries("s")).entries.map((entry) => entry.key)).toEqual(["a", "due", "later"])
      expect([...(yield* kv.exportStore("s")).entries].map(([key]) => key)).toEqual(["a", "due", "later"])
    }))

  it.scoped("an expiry is in the log: a restart never brings the key back; keys past their deadline at reopen expire at once", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const start = yield* Clock.currentTimeMillis
      // First life: `a` expires while the store runs.
      yield* Effect.scoped(Effect.gen(function*() {
        const { layer, recorded } = recording(onDisk(dataDir))
        const kv = yield* build(layer)
        yield* kv.put("s", "a", 1, { ttl: "1 minute" })
        yield* kv.put("s", "b", 2, { ttl: "1 hour" })
        yield* kv.put("s", "c", 3)
        yield* TestClock.adjust("1 minute")
        yield* recorded.until((recorded) => expiries(recorded, "s") === 1)
      }))
      // Closed past `b`'s deadline: reopened, `b` is gone at once and its Expire written.
      yield* TestClock.adjust("2 hours")
      yield* Effect.scoped(Effect.gen(function*() {
        const { layer, recorded } = recording(onDisk(dataDir))
        const kv = yield* build(layer)
        expect(yield* kv.get("s", "a")).toEqual(Option.none())
        expect(yield* kv.get("s", "b")).toEqual(Option.none())
        expect(yield* kv.get("s", "c")).toEqual(Option.some(3))
        yield* recorded.until((recorded) => expiries(recorded, "s") === 1)
        expect(changesOf(recorded, "s")).toMatchObject([{ _tag: "Expire", key: "b" }])
      }))
      // Even on a clock turned back to before both deadlines, neither comes back.
      yield* Effect.scoped(Effect.gen(function*() {
        const kv = yield* build(onDisk(dataDir)).pipe(Effect.withClock(stoppedClock(() => start)))
        expect(yield* kv.get("s", "a")).toEqual(Option.none())
        expect(yield* kv.get("s", "b")).toEqual(Option.none())
        expect((yield* kv.keys("s")).keys).toEqual(["c"])
      }))
    }))

  it.scoped("expire sets, extends and shortens a deadline, persist removes it; the value stays and the version moves on", () =>
    Effect.gen(function*() {
      const kv = yield* build(Storage.layerMemory)
      const start = yield* Clock.currentTimeMillis
      const v1 = yield* kv.put("s", "k", "v")
      expect(yield* kv.expire("s", "absent", "1 minute")).toEqual(Option.none())
      expect(yield* kv.persist("s", "absent")).toEqual(Option.none())
      // No expiry to remove: nothing changes.
      expect(yield* kv.persist("s", "k")).toEqual(Option.some(v1))

      const v2 = Option.getOrThrow(yield* kv.expire("s", "k", "1 minute"))
      expect(v2).toBeGreaterThan(v1)
      expect(yield* kv.getEntry("s", "k")).toEqual(Option.some({ value: "v", version: v2, expiresAt: start + 60_000 }))
      yield* TestClock.adjust("30 seconds")
      const v3 = Option.getOrThrow(yield* kv.expire("s", "k", "1 minute"))
      expect(v3).toBeGreaterThan(v2)
      yield* TestClock.adjust("45 seconds") // past the first deadline, before the extended one
      expect(yield* kv.getEntry("s", "k")).toEqual(Option.some({ value: "v", version: v3, expiresAt: start + 90_000 }))

      const stale = yield* Effect.flip(kv.persist("s", "k", { expectedVersion: v2 }))
      expect(stale).toMatchObject({ _tag: "VersionMismatch", expected: v2, actual: v3 })
      const v4 = Option.getOrThrow(yield* kv.persist("s", "k", { expectedVersion: v3 }))
      expect(yield* kv.getEntry("s", "k")).toEqual(Option.some({ value: "v", version: v4, expiresAt: undefined }))
      yield* TestClock.adjust("1 hour")
      expect(yield* kv.get("s", "k")).toEqual(Option.some("v"))
      // Duration.infinity is no expiry.
      expect(yield* kv.expire("s", "k", Duration.infinity)).toEqual(Option.some(v4))

      const invalid = yield* Effect.flip(kv.expire("s", "k", Duration.zero))
      expect(invalid._tag).toBe("InvalidTtl")
      expect(invalid.message).toContain("more than 0")
      expect((yield* Effect.flip(kv.put("s", "k", 1, { ttl: "-5 seconds" })))._tag).toBe("InvalidTtl")

      yield* kv.expire("s", "k", "1 second")
      yield* TestClock.adjust("1 second")
      expect(yield* kv.get("s", "k")).toEqual(Option.none())
    }))

  it.scoped("a put without a ttl clears the expiry; an increment keeps it", () =>
    Effect.gen(function*() {
      const kv = yield* build(Storage.layerMemory)
      const start = yield* Clock.currentTimeMillis
      yield* kv.put("s", "k", 1, { ttl: "1 minute" })
      yield* kv.put("s", "k", 2)
      expect(Option.getOrThrow(yield* kv.getEntry("s", "k")).expiresAt).toBeUndefined()

      yield* kv.put("s", "n", 5, { ttl: "1 minute" })
      const version = yield* kv.atomic("s", { ops: [{ op: "increment", key: "n", by: 2 }] })
      expect(yield* kv.getEntry("s", "n")).toEqual(Option.some({ value: 7, version, expiresAt: start + 60_000 }))
      yield* TestClock.adjust("1 minute")
      expect(yield* kv.get("s", "k")).toEqual(Option.some(2))
      expect(yield* kv.get("s", "n")).toEqual(Option.none())
      // Expired, it counts as absent: 0, and no expiry.
      yield* kv.atomic("s", { ops: [{ op: "increment", key: "n" }] })
      expect(yield* kv.getEntry("s", "n")).toMatchObject(Option.some({ value: 1, expiresAt: undefined }))
    }))

  it.scoped("a put with expiresAt keeps that exact deadline; one already past leaves the key gone; a bad one is InvalidTtl", () =>
    Effect.gen(function*() {
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer)
      const start = yield* Clock.currentTimeMillis
      yield* TestClock.adjust("3 millis")
      // The deadline given, not one from the batch's clock reading.
      const version = yield* kv.put("s", "k", "v", { expiresAt: start + 10_000 })
      expect(yield* kv.getEntry("s", "k")).toEqual(Option.some({ value: "v", version, expiresAt: start + 10_000 }))
      yield* kv.put("s", "gone", "v", { expiresAt: start })
      expect(yield* kv.get("s", "gone")).toEqual(Option.none())
      yield* recorded.until((recorded) => expiries(recorded, "s") === 1)
      expect(changesOf(recorded, "s").at(-1)).toMatchObject({ _tag: "Expire", key: "gone" })
      yield* TestClock.adjust("9997 millis")
      expect(yield* kv.get("s", "k")).toEqual(Option.none())

      const bad: ReadonlyArray<PutOptions> = [{ expiresAt: Number.NaN }, { expiresAt: -1 }, { expiresAt: start, ttl: "1 second" }]
      for (const options of bad) {
        expect((yield* Effect.flip(kv.put("s", "k", 1, options)))._tag).toBe("InvalidTtl")
      }
    }))

  it.scoped("the store wakes for an earlier deadline than the one it waits for", () =>
    Effect.gen(function*() {
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer)
      yield* kv.put("s", "late", 1, { ttl: "1 hour" })
      yield* kv.put("s", "soon", 2, { ttl: "1 second" })
      yield* TestClock.adjust("1 second")
      yield* recorded.until((recorded) => expiries(recorded, "s") === 1)
      expect(changesOf(recorded, "s").at(-1)).toMatchObject({ _tag: "Expire", key: "soon" })
      expect(yield* kv.get("s", "late")).toEqual(Option.some(1))
    }))

  it.scoped("past a batch's 10,000 expiries the store goes on by itself, even with a timer that never fires", () =>
    Effect.gen(function*() {
      let now = 1_000_000
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer).pipe(Effect.withClock(stoppedClock(() => now)))
      for (let start = 0; start < 25_000; start += 1000) {
        yield* kv.atomic("s", {
          ops: Array.from({ length: 1000 }, (_, i) => ({ op: "put" as const, key: `k${start + i}`, value: i, ttl: "1 minute" }))
        })
      }
      now += 60_000 // as after a wall-clock jump: the timer sleeps on
      yield* kv.put("s", "trigger", 1)
      yield* recorded.until((recorded) => expiries(recorded, "s") === 25_000)
      expect(recorded.batches.slice(-3).map((batch) => batch.changes.length)).toEqual([10_001, 10_000, 5_000])
    }))

  it.scoped("100,000 keys expiring at once are 10 batched appends, counted in effect_kv_expired_keys", () =>
    Effect.gen(function*() {
      const { layer, recorded } = recording(Storage.layerMemory)
      const kv = yield* build(layer)
      for (let start = 0; start < 100_000; start += 1000) {
        yield* kv.atomic("many", {
          ops: Array.from({ length: 1000 }, (_, i) => ({ op: "put" as const, key: `k${start + i}`, value: i, ttl: "1 minute" }))
        })
      }
      expect(yield* kv.size("many")).toBe(100_000)
      const counted = (yield* Metric.value(expiredKeys)).count
      const appended = recorded.batches.length
      yield* TestClock.adjust("1 minute")
      expect(yield* kv.size("many")).toBe(0)
      yield* recorded.until((recorded) => expiries(recorded, "many") === 100_000)
      // At most 10,000 expiries a batch, so that writes waiting behind them are not held long.
      expect(recorded.batches.length - appended).toBe(10)
      expect((yield* Metric.value(expiredKeys)).count - counted).toBe(100_000)
      expect(yield* kv.size("many")).toBe(0)
    }), 60_000)
})
