/**
 * `kv.watch`: every acknowledged change once, in version order, resumable by version, across
 * restarts of the store and of the process; slow watchers fail alone; `entries` then `watch`
 * misses nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Clock, Context, Deferred, Effect, Exit, Fiber, type FiberStatus, Layer, Option, Scope, Stream, TestClock } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import type { Change, Put } from "../../src/storage/Change.js"
import * as Feed from "../../src/kv/Feed.js"
import { KV, type KVOptions, type KVService } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "../storage/fixtures/FaultyFileSystem.js"
import { onTempDir, tempDir } from "../storage/fixtures/TempDir.js"
import { kvWith, makeControl } from "./crashable.js"

const implementations: ReadonlyArray<readonly [string, (options?: KVOptions) => Layer.Layer<KV, unknown>]> = [
  ["memory", (options) => KV.layerMemory(options)],
  ["file", (options) => onTempDir((dataDir) => KV.layer({ ...options, dataDir }))]
]

/** The changes of `stream` up to and including the first at or past `version`. */
const upTo = <E>(stream: Stream.Stream<Change, E>, version: number) =>
  Effect.map(Stream.runCollect(Stream.takeUntil(stream, (change) => change.version >= version)), Chunk.toArray)

/** The changes `subscription.pull` gives, up to and including the first at or past `version`. */
const pullUpTo = (subscription: Feed.Subscription, version: number) =>
  Effect.gen(function*() {
    const changes: Array<Change> = []
    while (changes.length === 0 || changes[changes.length - 1]!.version < version) {
      changes.push(...(yield* subscription.pull))
    }
    return changes
  })

/** A change as the tests compare it: its kind, version, key and value. */
const shape = (change: Change) => {
  switch (change._tag) {
    case "Put":
      return [change._tag, change.version, change.key, change.value]
    case "Delete":
    case "Expire":
      return [change._tag, change.version, change.key]
    default:
      return [change._tag, change.version]
  }
}

const put = (key: string, version: number, value: unknown): Put => ({
  _tag: "Put",
  key,
  value,
  json: JSON.stringify(value),
  version,
  expiresAt: undefined
})

/** A mixed workload on `store`: puts, overwrites, deletes and a clear, one at a time. */
const workload = (kv: KVService, store: string, count: number) =>
  Effect.forEach(Array.from({ length: count }, (_, i) => i), (i): Effect.Effect<unknown, unknown> =>
    i % 37 === 36
      ? kv.clear(store)
      : i % 5 === 4
      ? kv.delete(store, `a/k${(i * 7) % 23}`)
      : kv.put(store, `${i % 2 === 0 ? "a" : "b"}/k${i % 23}`, { i }), { discard: true })

for (const [storage, makeLayer] of implementations) {
  describe(`watch on ${storage} storage`, () => {
    it.scoped("100 writers, 3 watchers: each watcher sees every acknowledged write once, in order, with its value", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const writers = 100
        const each = 20
        const total = writers * each
        const subscriptions = yield* Effect.all([kv.subscribe("feed"), kv.subscribe("feed"), kv.subscribe("feed")])
        const watchers = yield* Effect.forEach(subscriptions, (subscription) => Effect.fork(upTo(subscription.changes, total)))
        const acknowledged = yield* Effect.forEach(
          Array.from({ length: writers }, (_, w) => w),
          (w) =>
            Effect.forEach(Array.from({ length: each }, (_, i) => i), (i) =>
              Effect.map(kv.put("feed", `w${w}/${i}`, { w, i }), (version) => ["Put", version, `w${w}/${i}`, { w, i }])),
          { concurrency: "unbounded" }
        )
        const expected = acknowledged.flat().sort((a, b) => (a[1] as number) - (b[1] as number))
        expect(expected.map((write) => write[1])).toEqual(Array.from({ length: total }, (_, i) => i + 1))
        for (const watcher of watchers) expect((yield* Fiber.join(watcher)).map(shape)).toEqual(expected)
      }).pipe(Effect.provide(makeLayer())))

    it.scoped("a watch from any version replays exactly the history after it, then goes on live", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const count = 300
        const everything = yield* kv.subscribe("resume", { since: 0 })
        yield* workload(kv, "resume", count)
        const last = (yield* kv.entries("resume")).version
        const history = yield* upTo(everything.changes, last)
        expect(history.map((change) => change.version)).toEqual(Array.from({ length: last }, (_, i) => i + 1))
        for (let round = 0; round < 20; round++) {
          const since = Math.floor(Math.random() * last)
          const resumed = yield* upTo(kv.watch("resume", { since }), last)
          expect(resumed).toEqual(history.filter((change) => change.version > since))
        }
        // From the last version: nothing to replay, and the next write comes live.
        const live = yield* Effect.fork(upTo(kv.watch("resume", { since: last }), last + 1))
        const next = yield* kv.put("resume", "after", 1)
        expect((yield* Fiber.join(live)).map(shape)).toEqual([["Put", next, "after", 1]])
      }).pipe(Effect.provide(makeLayer())))

    it.scoped("entries then watch from its version, across concurrent writes, loses and repeats nothing", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const writers = yield* Effect.fork(Effect.forEach(
          Array.from({ length: 20 }, (_, w) => w),
          (w) => Effect.zipRight(workload(kv, "listed", 100), kv.put("listed", `done${w}`, w)),
          { concurrency: "unbounded" }
        ))
        const snapshots: Array<{ readonly state: Map<string, unknown>; readonly watch: Feed.Subscription }> = []
        // A snapshot at each version the reader finds while the writers go on.
        while (snapshots.length < 20 && writers.unsafePoll() === null) {
          const page = yield* kv.entries("listed", { limit: 1000 })
          expect(Option.isNone(page.next)).toBe(true)
          for (const entry of page.entries) expect(entry.version).toBeLessThanOrEqual(page.version)
          if (page.version !== snapshots.at(-1)?.watch.since) {
            snapshots.push({
              state: new Map(page.entries.map((entry) => [entry.key, entry.value])),
              watch: yield* kv.subscribe("listed", { since: page.version })
            })
          }
          yield* Effect.yieldNow()
        }
        yield* Fiber.join(writers)
        const final = yield* kv.entries("listed", { limit: 1000 })
        expect(snapshots.length).toBeGreaterThan(1)
        // Each snapshot, with the changes after its version applied once each, is the final state.
        for (const { state, watch } of snapshots) {
          const changes = yield* upTo(watch.changes, final.version)
          expect(changes.map((change) => change.version)).toEqual(
            Array.from({ length: final.version - watch.since }, (_, i) => watch.since + 1 + i)
          )
          for (const change of changes) {
            if (change._tag === "Put") state.set(change.key, change.value)
            else if (change._tag === "Delete") state.delete(change.key)
            else if (change._tag === "Clear") state.clear()
          }
          expect(state).toEqual(new Map(final.entries.map((entry) => [entry.key, entry.value])))
        }
      }).pipe(Effect.provide(makeLayer())))

    it.scoped("a watch of a prefix gets the changes of its keys, and every clear", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const watch = yield* kv.subscribe("prefixed", { prefix: "a/" })
        yield* workload(kv, "prefixed", 80)
        const last = yield* kv.clear("prefixed").pipe(Effect.zipRight(kv.entries("prefixed")), Effect.map((page) => page.version))
        const all = yield* upTo(kv.watch("prefixed", { since: 0 }), last)
        const expected = all.filter((change) => change._tag === "Clear" || ("key" in change && change.key.startsWith("a/")))
        expect(yield* upTo(watch.changes, last)).toEqual(expected)
        expect(expected.filter((change) => change._tag === "Clear").length).toBeGreaterThan(1)
      }).pipe(Effect.provide(makeLayer())))
  })
}

describe("watch", () => {
  it.scoped("a watcher that never reads fails with WatchLagged; memory stays bounded, the writes and other watchers go on", () =>
    Effect.gen(function*() {
      v8.setFlagsFromString("--expose-gc")
      const gc = vm.runInNewContext("gc") as () => void
      const kv = yield* KV
      yield* kv.put("busy", "start", 0)
      const idle = yield* kv.subscribe("busy")
      const reader = yield* kv.subscribe("busy")
      const count = 20_000
      const read = yield* Effect.fork(Stream.runCount(Stream.takeUntil(reader.changes, (change) => change.version >= count + 1)))
      gc()
      const before = process.memoryUsage().heapUsed
      const value = "v".repeat(1000)
      // Twenty thousand 1 KiB values (and their JSON) over 10 keys: 40 MiB in an unbounded buffer.
      yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => kv.put("busy", `k${i % 10}`, `${i}${value}`), {
        concurrency: 100,
        discard: true
      })
      gc()
      const grown = process.memoryUsage().heapUsed - before
      expect(yield* Fiber.join(read)).toBe(count)
      const lagged = yield* Effect.flip(Stream.runDrain(idle.changes))
      expect(lagged).toMatchObject({ _tag: "WatchLagged", store: "busy", lastVersion: 1 })
      expect(lagged.message).toContain("since 1")
      console.log(`heap grown by ${(grown / 2 ** 20).toFixed(1)} MiB over ${count} writes of 1 KiB beside a watcher that never read`)
      expect(grown).toBeLessThan(16 * 2 ** 20)
      // The history holds the last 1,000 changes only: the watcher learns to read the store again.
      const gone = yield* Effect.flip(kv.subscribe("busy", { since: lagged.lastVersion }))
      expect(gone).toMatchObject({ _tag: "HistoryCompacted", since: 1, oldest: count + 1 - 1000 })
    }).pipe(Effect.provide(KV.layerMemory({ watchHistory: 1000, watchBuffer: 1000 }))))

  it.scoped("history gone: HistoryCompacted names the oldest version still held; since above the version is InvalidQuery", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      for (let i = 1; i <= 50; i++) yield* kv.put("short", `k${i}`, i)
      const gone = yield* Effect.flip(kv.subscribe("short", { since: 5 }))
      expect(gone).toMatchObject({ _tag: "HistoryCompacted", store: "short", since: 5, oldest: 40 })
      expect(gone.message).toContain("oldest version to watch from is 40")
      expect((yield* upTo(kv.watch("short", { since: 40 }), 50)).map((change) => change.version)).toEqual(
        Array.from({ length: 10 }, (_, i) => 41 + i)
      )
      const ahead = yield* Effect.flip(Stream.runDrain(kv.watch("short", { since: 51 })))
      expect(ahead).toMatchObject({ _tag: "InvalidQuery" })
      expect(ahead.message).toContain("above the version of store \"short\", 50")
      expect((yield* Effect.flip(kv.subscribe("short", { since: -1 })))._tag).toBe("InvalidQuery")
      // A watcher whose next change leaves the history while it does not read has lagged.
      const slow = yield* kv.subscribe("short", { since: 45 })
      for (let i = 0; i < 6; i++) yield* kv.put("short", "more", i)
      expect(yield* Effect.flip(Stream.runDrain(slow.changes))).toMatchObject({ _tag: "WatchLagged", lastVersion: 45 })
    }).pipe(Effect.provide(KV.layerMemory({ watchHistory: 10, watchBuffer: 10 }))))

  it.scoped("the history weighs at most watchHistoryBytes: large values leave it sooner", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const large = "x".repeat(1000)
      for (let i = 1; i <= 20; i++) yield* kv.put("heavy", "k", large)
      // Each change weighs its key and its value's JSON: 1 + 1002; five fit in 5,100.
      expect(yield* Effect.flip(kv.subscribe("heavy", { since: 14 }))).toMatchObject({ _tag: "HistoryCompacted", oldest: 15 })
      expect((yield* upTo(kv.watch("heavy", { since: 15 }), 20)).length).toBe(5)
      // A value larger than the whole budget is still held, alone, for the watchers to read.
      const watch = yield* kv.subscribe("heavy", { since: 20 })
      yield* kv.put("heavy", "k", "y".repeat(10_000))
      expect((yield* upTo(watch.changes, 21)).map((change) => change.version)).toEqual([21])
      expect(yield* Effect.flip(kv.subscribe("heavy", { since: 19 }))).toMatchObject({ _tag: "HistoryCompacted", oldest: 20 })
    }).pipe(Effect.provide(KV.layerMemory({ watchHistoryBytes: 5100 }))))

  it.scoped("a watch of a store that holds nothing waits for its first write", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const watch = yield* kv.subscribe("empty", { since: 0 })
      expect(watch.since).toBe(0)
      const first = yield* Effect.fork(upTo(watch.changes, 1))
      yield* kv.put("empty", "k", "first")
      expect((yield* Fiber.join(first)).map(shape)).toEqual([["Put", 1, "k", "first"]])
    }).pipe(Effect.provide(KV.layerMemory())))

  it.scoped("a crash of the store under a watcher: it goes on with what was acknowledged, nothing lost or repeated", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      const watch = yield* kv.subscribe("crashy", { since: 0 })
      const acknowledged: Array<unknown> = []
      for (let i = 0; i < 30; i++) {
        if (i % 10 === 5) control.crashNext.add("crashy")
        const written = yield* Effect.either(kv.put("crashy", `k${i}`, i))
        if (written._tag === "Right") acknowledged.push(["Put", written.right, `k${i}`, i])
        else expect(["ServerStopped", "OutcomeUnknown"]).toContain(written.left._tag)
      }
      expect(control.opened).toBe(4)
      expect(acknowledged.length).toBe(27)
      expect((yield* upTo(watch.changes, 27)).map(shape)).toEqual(acknowledged)
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.scoped("a store closed when idle and reopened: its watcher goes on; a new watch resumes from the history", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      const [before, after] = yield* Effect.scoped(Effect.gen(function*() {
        const watch = yield* kv.subscribe("sleepy")
        const before = yield* kv.put("sleepy", "k", 1)
        yield* TestClock.adjust("3 minutes")
        expect(control.openNow).toBe(0)
        const after = yield* kv.put("sleepy", "k", 2)
        expect(control.opened).toBe(2)
        expect((yield* upTo(watch.changes, after)).map(shape)).toEqual([["Put", before, "k", 1], ["Put", after, "k", 2]])
        return [before, after] as const
      }))
      // With no watcher and no store running the feed is let go, and seeded again from the log.
      yield* TestClock.adjust("3 minutes")
      expect(control.openNow).toBe(0)
      expect((yield* upTo(kv.watch("sleepy", { since: 0 }), after)).map((change) => change.version)).toEqual([before, after])
      expect(control.opened).toBe(3)
    }).pipe(Effect.provide(kvWith(control, { idleTimeout: "1 minute" })))
  })

  it.scoped("across a restart of the process, the history is what the log holds since its last compaction", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const session = <A, E>(effect: (kv: KVService) => Effect.Effect<A, E, Scope.Scope>) =>
        Effect.scoped(Effect.flatMap(KV, effect)).pipe(Effect.provide(KV.layer({ dataDir })))
      yield* session((kv) => Effect.forEach([1, 2, 3, 4, 5], (i) => kv.put("kept", `k${i}`, { i }), { discard: true }))
      const replayed = yield* session((kv) => upTo(kv.watch("kept", { since: 2 }), 5))
      expect(replayed.map(shape)).toEqual([3, 4, 5].map((i) => ["Put", i, `k${i}`, { i }]))
      yield* session((kv) => kv.compact("kept"))
      const gone = yield* session((kv) => Effect.flip(kv.subscribe("kept", { since: 2 })))
      expect(gone).toMatchObject({ _tag: "HistoryCompacted", since: 2, oldest: 5 })
      const next = yield* session((kv) =>
        Effect.gen(function*() {
          const watch = yield* kv.subscribe("kept", { since: 5 })
          yield* kv.put("kept", "k6", { i: 6 })
          return yield* upTo(watch.changes, 6)
        })
      )
      expect(next.map(shape)).toEqual([["Put", 6, "k6", { i: 6 }]])
    }))

  it.scoped("dropStore completes its watches; closing KV completes every watch", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const kv = Context.get(yield* Layer.buildWithScope(KV.layerMemory(), scope), KV)
      yield* kv.put("dropped", "k", 1)
      yield* kv.put("closed", "k", 1)
      const dropped = yield* Effect.fork(Stream.runCollect((yield* kv.subscribe("dropped", { since: 0 })).changes))
      const closed = yield* Effect.fork(Stream.runCollect((yield* kv.subscribe("closed", { since: 0 })).changes))
      yield* kv.dropStore("dropped")
      expect(Chunk.toArray(yield* Fiber.join(dropped)).map(shape)).toEqual([["Put", 1, "k", 1]])
      // A store made again under the name counts from 1, and is watched afresh.
      const again = yield* Effect.fork(upTo(kv.watch("dropped", { since: 0 }), 1))
      yield* kv.put("dropped", "new", 2)
      expect((yield* Fiber.join(again)).map(shape)).toEqual([["Put", 1, "new", 2]])
      yield* Scope.close(scope, Exit.void)
      expect(Chunk.toArray(yield* Fiber.join(closed)).map(shape)).toEqual([["Put", 1, "k", 1]])
    }))

  it.scoped("an expiry, expire and persist, and an atomic write reach a watcher as Expire, Touch and one Atomic change", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const start = yield* Clock.currentTimeMillis
      const watch = yield* kv.subscribe("ttl", { since: 0 })
      yield* kv.put("ttl", "brief", "b", { ttl: "10 seconds" })
      yield* kv.put("ttl", "kept", "k")
      yield* kv.expire("ttl", "kept", "1 hour")
      yield* kv.persist("ttl", "kept")
      yield* kv.atomic("ttl", {
        checks: [{ key: "kept", version: 4 }],
        ops: [{ op: "put", key: "a", value: 1, ttl: "1 minute" }, { op: "increment", key: "n", by: 2 }, {
          op: "delete",
          key: "kept"
        }]
      })
      // No write comes: the store's timer writes the expiry, and its watcher sees it.
      yield* TestClock.adjust("10 seconds")
      expect(yield* upTo(watch.changes, 6)).toEqual([
        { _tag: "Put", key: "brief", value: "b", json: "\"b\"", version: 1, expiresAt: start + 10_000 },
        { _tag: "Put", key: "kept", value: "k", json: "\"k\"", version: 2, expiresAt: undefined },
        { _tag: "Touch", key: "kept", version: 3, expiresAt: start + 3_600_000 },
        { _tag: "Touch", key: "kept", version: 4, expiresAt: undefined },
        {
          _tag: "Atomic",
          version: 5,
          changes: [
            { _tag: "Put", key: "a", value: 1, json: "1", version: 5, expiresAt: start + 60_000 },
            { _tag: "Put", key: "n", value: 2, json: "2", version: 5, expiresAt: undefined },
            { _tag: "Delete", key: "kept", version: 5 }
          ]
        },
        { _tag: "Expire", key: "brief", version: 6 }
      ])
    }).pipe(Effect.provide(KV.layerMemory())))

  it.scopedLive("a batch that the log refuses is never published: the watcher sees the writes before and after, one version apart", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.gen(function*() {
        const kv = yield* KV
        const watch = yield* kv.subscribe("s", { since: 0 })
        const before = yield* kv.put("s", "before", 1)
        disk.setSpace(0)
        const refused = yield* Effect.exit(kv.put("s", "refused", 1))
        expect(Exit.isFailure(refused) && Option.getOrThrow(Cause.failureOption(refused.cause))._tag).toBe("DiskFull")
        disk.setSpace(Number.POSITIVE_INFINITY)
        // The store takes writes again once its probe sees the disk recover.
        let after: number | undefined
        while (after === undefined) {
          const exit = yield* Effect.exit(kv.put("s", "after", 2))
          if (Exit.isSuccess(exit)) after = exit.value
          else yield* Effect.sleep("20 millis")
        }
        expect(after).toBe(before + 1)
        expect((yield* upTo(watch.changes, after)).map(shape)).toEqual([["Put", before, "before", 1], ["Put", after, "after", 2]])
      }).pipe(Effect.provide(KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer)))))
    }))

  it.effect("an atomic write reaches a prefix watcher with only its matching changes, and not at all if none match", () =>
    Effect.scoped(Effect.gen(function*() {
      const feeds = Feed.makeFeeds({ history: 10, buffer: 10 })
      const feed = feeds.attach("s", 0, [])
      const watch = Option.getOrThrow(yield* feeds.subscribe(feed, { prefix: "a/" }))
      const del = { _tag: "Delete", key: "a/2", version: 1 } as const
      feed.publish([{ _tag: "Atomic", version: 1, changes: [put("a/1", 1, 1), put("b/1", 1, 1), del] }])
      feed.publish([{ _tag: "Atomic", version: 2, changes: [put("b/2", 2, 2)] }])
      feed.publish([{ _tag: "Atomic", version: 3, changes: [put("a/3", 3, 3)] }])
      expect(yield* upTo(watch.changes, 3)).toEqual([
        { _tag: "Atomic", version: 1, changes: [put("a/1", 1, 1), del] },
        { _tag: "Atomic", version: 3, changes: [put("a/3", 3, 3)] }
      ])
    })))

  it.effect("a watch interrupted while it waits ends at once; its feed lets it go when its scope closes, and others go on", () =>
    Effect.gen(function*() {
      const feeds = Feed.makeFeeds({ history: 10, buffer: 10 })
      const feed = feeds.attach("s", 0, [])
      const scope = yield* Scope.make()
      const interrupted = Option.getOrThrow(yield* Scope.extend(feeds.subscribe(feed, {}), scope))
      const other = Option.getOrThrow(yield* Scope.extend(feeds.subscribe(feed, {}), scope))
      const first = yield* Deferred.make<void>()
      const reader = yield* Effect.fork(Stream.runForEach(interrupted.changes, () => Deferred.succeed(first, undefined)))
      feed.publish([put("k", 1, 1)])
      yield* Deferred.await(first)
      // The reader has its change and waits for the next: interrupting it ends it, with no canceler to run.
      yield* Fiber.interrupt(reader)
      feed.publish([put("k", 2, 2)])
      expect(yield* upTo(other.changes, 2)).toEqual([put("k", 1, 1), put("k", 2, 2)])
      expect(feeds.watchers()).toEqual([["s", 2]])
      yield* Scope.close(scope, Exit.void)
      expect(feeds.watchers()).toEqual([])
    }))

  it.scoped("pull gives what the stream gives, and fails with None when the store is dropped", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const pulled = yield* kv.subscribe("pulled")
      const streamed = yield* kv.subscribe("pulled")
      const total = 500
      const reading = yield* Effect.fork(Effect.all([pullUpTo(pulled, total), upTo(streamed.changes, total)]))
      yield* Effect.forEach(Array.from({ length: total }, (_, i) => i), (i) => kv.put("pulled", `k${i % 50}`, i), {
        concurrency: 100,
        discard: true
      })
      const [byPull, byStream] = yield* Fiber.join(reading)
      expect(byPull.map((change) => change.version)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      expect(byPull).toEqual(byStream)
      const waiting = yield* Effect.fork(pulled.pull)
      yield* kv.dropStore("pulled")
      expect(yield* Effect.flip(Fiber.join(waiting))).toEqual(Option.none())
    }).pipe(Effect.provide(KV.layerMemory())))

  it.scoped("pull fails with Some(WatchLagged) when the watch fell behind", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const behind = yield* kv.subscribe("behind")
      for (let i = 0; i < 11; i++) yield* kv.put("behind", `k${i}`, i)
      const lagged = yield* Effect.flip(behind.pull)
      expect(Option.getOrThrow(lagged)).toMatchObject({ _tag: "WatchLagged", store: "behind", lastVersion: 0 })
    }).pipe(Effect.provide(KV.layerMemory({ watchHistory: 10, watchBuffer: 10 }))))

  it.effect("two fibers pulling one watch both wait; each change goes to one of them, once", () =>
    Effect.gen(function*() {
      const feeds = Feed.makeFeeds()
      const feed = feeds.attach("s", 0, [])
      const subscription = Option.getOrThrow(yield* feeds.subscribe(feed, {}))
      const pulling = [yield* Effect.fork(subscription.pull), yield* Effect.fork(subscription.pull)]
      /** Waits until `ready` holds of the pulling fibers' statuses. */
      const until = (ready: (statuses: ReadonlyArray<FiberStatus.FiberStatus>) => boolean) =>
        Effect.gen(function*() {
          while (!ready(yield* Effect.forEach(pulling, Fiber.status))) yield* Effect.yieldNow()
        })
      // Both wait before the first publish: the second wait must not drop the first one's wake.
      yield* until((statuses) => statuses.every((status) => status._tag === "Suspended"))
      feed.publish([put("a", 1, 1)])
      yield* until((statuses) => statuses.some((status) => status._tag === "Done"))
      yield* until((statuses) => statuses.every((status) => status._tag !== "Running"))
      feed.publish([put("b", 2, 2)])
      const got = (yield* Effect.forEach(pulling, Fiber.join)).map((chunk) => Chunk.toArray(chunk).map((change) => change.version))
      expect(got.sort()).toEqual([[1], [2]])
    }).pipe(Effect.scoped))
})
