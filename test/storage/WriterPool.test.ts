/**
 * The writer pool's guarantees, seen through `Storage.layerFile` on a file system that can hold
 * or break an operation: appends that wait together share one fsync (group commit); a compaction
 * runs after the acknowledgements of the batch that made it due; a defect below a writer fails
 * the requests it had and leaves the writer serving the other stores.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"
import { applyChange, type Change, type Snapshot } from "../../src/storage/Change.js"
import { layout, storeFiles } from "../../src/storage/internal/dataDir.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "./fixtures/FaultyFileSystem.js"
import { tempDir } from "./fixtures/TempDir.js"

/** One writer, so that every store shares it. */
const onDisk = (dataDir: string, disk: ReturnType<typeof diskFull>, options: Partial<Storage.FileOptions> = {}) =>
  Effect.map(
    Layer.build(Storage.layerFile({ dataDir, writers: 1, ...options }).pipe(Layer.provide(disk.layer))),
    Context.get(Storage.Storage)
  )

/** Puts of `keys`, one record each, from `state`: the changes and the state after them. */
const puts = (state: Snapshot, keys: ReadonlyArray<string>) => {
  let entries = HashMap.beginMutation(state.entries)
  let sequence = state.sequence
  const changes = keys.map((key): Change => {
    const change: Change = { _tag: "Put", key, value: key, json: JSON.stringify(key), version: ++sequence, expiresAt: undefined }
    entries = applyChange(entries, change)
    return change
  })
  return { changes, after: { entries: HashMap.endMutation(entries), sequence } }
}

/** Waits until `fiber` is suspended: for an append, its request is in the writer's mailbox. */
const awaitSuspended = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.flatMap(fiber.status, (status) => status._tag === "Suspended" ? Effect.void : Effect.fail("running")).pipe(
    Effect.retry(Schedule.spaced("1 millis"))
  )

const keysAfterReopen = (dataDir: string, store: string) =>
  Effect.scoped(Effect.gen(function*() {
    const storage = Context.get(yield* Layer.build(Storage.layerFile({ dataDir })), Storage.Storage)
    return Array.from(HashMap.keys((yield* storage.open(store)).recovered.entries)).sort()
  })).pipe(Effect.provide(NodeFileSystem.layer))

describe("writer pool", () => {
  it.scopedLive("appends queued while the writer is busy are written as one batch with one fsync per file", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.scoped(Effect.gen(function*() {
        const storage = yield* onDisk(dataDir, disk)
        const busy = yield* storage.open("busy")
        const log = yield* storage.open("s")
        // First writes create each store's folder and log (with fsyncs of their own).
        const created = puts(log.recovered, ["created"])
        yield* log.append(created.changes, created.after)
        const busyCreated = puts(busy.recovered, ["created"])
        yield* busy.append(busyCreated.changes, busyCreated.after)
        const first = puts(busyCreated.after, ["x"])
        const held = disk.holdSync(1)
        const blocker = yield* Effect.fork(busy.append(first.changes, first.after))
        yield* held.entered
        // Ten appends to one log, queued in order behind the held fsync.
        let state = created.after
        const waiting: Array<Fiber.RuntimeFiber<void, unknown>> = []
        for (let i = 0; i < 10; i++) {
          const next = puts(state, [`k${i}`])
          state = next.after
          const fiber = yield* Effect.fork(log.append(next.changes, next.after))
          yield* awaitSuspended(fiber)
          waiting.push(fiber)
        }
        const before = disk.syncs()
        yield* held.release
        yield* Fiber.join(blocker)
        yield* Effect.forEach(waiting, Fiber.join, { discard: true })
        expect(disk.syncs() - before).toBe(1)
      }))
      expect(yield* keysAfterReopen(dataDir, "s")).toEqual(["created", ...Array.from({ length: 10 }, (_, i) => `k${i}`)])
    }))

  it.scopedLive("a compaction made due by a batch runs after that batch is acknowledged", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const storage = yield* onDisk(dataDir, disk, { compaction: { minDeadRecords: 5, deadRatio: 1 } })
      const log = yield* storage.open("s")
      let state = log.recovered
      for (let i = 0; i < 5; i++) {
        const next = puts(state, ["same"])
        yield* log.append(next.changes, next.after)
        state = next.after
      }
      // The next append makes 5 dead records: its log fsync goes through, the compaction's is held.
      const held = disk.holdSync(2)
      const next = puts(state, ["same"])
      yield* log.append(next.changes, next.after)
      yield* held.entered
      const { snapshot } = storeFiles(layout(dataDir), "s")
      expect(fs.existsSync(snapshot)).toBe(false)
      yield* held.release
      yield* Effect.suspend(() => fs.existsSync(snapshot) ? Effect.void : Effect.fail("not yet")).pipe(
        Effect.retry(Schedule.spaced("5 millis"))
      )
    }))

  it.scopedLive("a defect below a writer fails the requests it had, as a StorageError, and the writer serves on", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.scoped(Effect.gen(function*() {
        const storage = yield* onDisk(dataDir, disk)
        const broken = yield* storage.open("broken")
        const other = yield* storage.open("other")
        const a = puts(broken.recovered, ["a"])
        yield* broken.append(a.changes, a.after)
        disk.dieOnNextWrite()
        const b = puts(a.after, ["b"])
        const error = yield* Effect.flip(broken.append(b.changes, b.after))
        expect(error).toMatchObject({ _tag: "StorageError", operation: "write" })
        expect(error.message).toContain("a bug below storage")
        const c = puts(other.recovered, ["c"])
        yield* other.append(c.changes, c.after)
        expect(yield* Effect.flip(broken.append(b.changes, b.after))).toBe(error)
        yield* broken.recover
        yield* broken.append(b.changes, b.after)
      }))
      expect(yield* keysAfterReopen(dataDir, "broken")).toEqual(["a", "b"])
      expect(yield* keysAfterReopen(dataDir, "other")).toEqual(["c"])
    }))
})
