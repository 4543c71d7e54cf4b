/**
 * Disk errors at the `StoreLog` level: a full disk (a short write, then ENOSPC), a failed fsync
 * and a failed cut leave nothing of the failed batch in the log, the log refuses appends with
 * that error until `recover` succeeds, and a reopen holds exactly the acknowledged batches. Also
 * on a real, tiny tmpfs where `mount` works (skipped where it does not).
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { applyChange, type Change, type Snapshot } from "../../src/storage/Change.js"
import { layout, storeFiles } from "../../src/storage/internal/dataDir.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "./fixtures/FaultyFileSystem.js"
import { tempDir } from "./fixtures/TempDir.js"
import { mountTmpfs, unmountTmpfs } from "./fixtures/Tmpfs.js"

/** A log and the state it was last acknowledged at, with puts of `size`-character values. */
const writer = (log: Storage.StoreLog, size = 100) => {
  let state: Snapshot = log.recovered
  const acknowledged = new Map<string, unknown>()
  /** Appends one batch of puts of `keys`; on success they are acknowledged. */
  const append = (keys: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      let entries = HashMap.beginMutation(state.entries)
      let sequence = state.sequence
      const changes: Array<Change> = keys.map((key) => {
        const value = { key, pad: "v".repeat(size) }
        const change: Change = { _tag: "Put", key, value, json: JSON.stringify(value), version: ++sequence, expiresAt: undefined }
        entries = applyChange(entries, change)
        return change
      })
      const after = { entries: HashMap.endMutation(entries), sequence }
      yield* log.append(changes, after)
      state = after
      for (const change of changes) if (change._tag === "Put") acknowledged.set(change.key, change.value)
    })
  return { append, acknowledged }
}

const onDisk = (dataDir: string, disk: ReturnType<typeof diskFull>) =>
  Effect.map(Layer.build(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer))), Context.get(Storage.Storage))

/** The entries of `store` after reopening `dataDir` on the real disk, as key → value. */
const reopened = (dataDir: string, store = "s") =>
  Effect.scoped(Effect.gen(function*() {
    const storage = Context.get(yield* Layer.build(Storage.layerFile({ dataDir })), Storage.Storage)
    const log = yield* storage.open(store)
    return new Map(Array.from(HashMap.toEntries(log.recovered.entries), ([key, entry]) => [key, entry.value] as const))
  })).pipe(Effect.provide(NodeFileSystem.layer))

const logSize = (dataDir: string) => fs.statSync(storeFiles(layout(dataDir), "s").log).size

const tmpfs = mountTmpfs("256k")

describe("disk errors", () => {
  it.scoped("a disk that fills in the middle of a batch: DiskFull, nothing of the batch kept, refused until recover", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* (yield* onDisk(dataDir, disk)).open("s")
        const { append, acknowledged } = writer(log)
        yield* append(["a", "b"])
        const sizeBefore = logSize(dataDir)
        disk.setSpace(200) // the first record of five (~130 bytes) fits, the second is cut short
        const error = yield* Effect.flip(append(["f0", "f1", "f2", "f3", "f4"]))
        expect(error).toMatchObject({ _tag: "DiskFull", operation: "write" })
        expect(error.message).toMatch(/ENOSPC/)
        expect(error.message).toContain("nothing unsynced was acknowledged")
        expect(logSize(dataDir)).toBe(sizeBefore)

        // Refused at once, with the same error, even with room again, until recover succeeds.
        disk.setSpace(Number.POSITIVE_INFINITY)
        expect(yield* Effect.flip(append(["refused"]))).toBe(error)
        disk.setSpace(0)
        expect(yield* Effect.flip(log.recover)).toMatchObject({ _tag: "DiskFull" })
        expect(yield* Effect.flip(append(["still refused"]))).toMatchObject({ _tag: "DiskFull" })
        disk.setSpace(Number.POSITIVE_INFINITY)
        yield* log.recover
        yield* append(["c"])
        expect(Array.from(acknowledged.keys())).toEqual(["a", "b", "c"])
      }))
      const back = yield* reopened(dataDir)
      expect(Array.from(back.keys()).sort()).toEqual(["a", "b", "c"])
      expect(fs.existsSync(storeFiles(layout(dataDir), "s").probe)).toBe(false)
    }))

  it.scoped("a failed fsync fails the batch, which is cut off and never retried into an acknowledgement", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* (yield* onDisk(dataDir, disk)).open("s")
        const { append } = writer(log)
        yield* append(["before"])
        const sizeBefore = logSize(dataDir)
        disk.failNextSync()
        const error = yield* Effect.flip(append(["unsynced", "too"]))
        expect(error).toMatchObject({ _tag: "StorageError", operation: "fsync" })
        expect(logSize(dataDir)).toBe(sizeBefore)
        expect(yield* Effect.flip(append(["refused"]))).toBe(error)
        yield* log.recover
        yield* append(["after"])
      }))
      expect(Array.from((yield* reopened(dataDir)).keys()).sort()).toEqual(["after", "before"])
    }))

  it.scoped("a cut that fails is retried by recover, and by the next open if the log closed first", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.scoped(Effect.gen(function*() {
        const storage = yield* onDisk(dataDir, disk)
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* storage.open("s")
          const { append } = writer(log)
          yield* append(["a"])
          const sizeBefore = logSize(dataDir)
          disk.setSpace(200)
          disk.failTruncates(1)
          yield* Effect.flip(append(["f0", "f1", "f2"]))
          expect(logSize(dataDir)).toBeGreaterThan(sizeBefore) // the cut failed: the first record is still there
          disk.setSpace(Number.POSITIVE_INFINITY)
          yield* log.recover
          expect(logSize(dataDir)).toBe(sizeBefore)
          yield* append(["b"])
        }))
        // Now every cut fails until the log is closed: the next open of the store cuts it.
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* storage.open("s")
          const { append } = writer(log)
          disk.setSpace(200)
          disk.failTruncates(3) // at the failure, at recover, at close
          yield* Effect.flip(append(["g0", "g1", "g2"]))
          disk.setSpace(Number.POSITIVE_INFINITY)
          expect(yield* Effect.flip(log.recover)).toMatchObject({ _tag: "StorageError", operation: "truncate" })
        }))
        const log = yield* storage.open("s")
        expect(Array.from(HashMap.keys(log.recovered.entries)).sort()).toEqual(["a", "b"])
      }))
      expect(Array.from((yield* reopened(dataDir)).keys()).sort()).toEqual(["a", "b"])
    }))

  it.scoped("a cut still owed by a dropped store is forgotten: a new store of that name keeps its writes", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const keys = Array.from({ length: 20 }, (_, i) => `new${i}`)
      yield* Effect.scoped(Effect.gen(function*() {
        const storage = yield* onDisk(dataDir, disk)
        yield* Effect.scoped(Effect.gen(function*() {
          const { append } = writer(yield* storage.open("s"))
          yield* append(["a"])
          disk.setSpace(200)
          disk.failTruncates(2) // at the failure and at close: the cut is still owed
          yield* Effect.flip(append(["f0", "f1", "f2"]))
          disk.setSpace(Number.POSITIVE_INFINITY)
        }))
        yield* storage.drop("s")
        yield* Effect.scoped(Effect.flatMap(storage.open("s"), (log) => writer(log).append(keys)))
        const log = yield* storage.open("s")
        expect(HashMap.size(log.recovered.entries)).toBe(keys.length)
      }))
      expect(Array.from((yield* reopened(dataDir)).keys()).sort()).toEqual([...keys].sort())
    }))

  it.scoped("a failed append is never half applied across stores of one writer: the others go on", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.scoped(Effect.gen(function*() {
        const storage = yield* onDisk(dataDir, disk)
        const one = writer(yield* storage.open("s"))
        const other = writer(yield* storage.open("other"))
        yield* one.append(["a"])
        disk.failNextSync()
        const [failed, succeeded] = yield* Effect.all([Effect.exit(one.append(["x"])), Effect.exit(other.append(["y"]))], {
          concurrency: "unbounded"
        })
        // One of the two writes met the failed fsync; the other store's log is untouched by it.
        expect([failed, succeeded].filter(Exit.isFailure)).toHaveLength(1)
        yield* Effect.ignore(one.append(["z"]))
        yield* Effect.ignore(other.append(["w"]))
      }))
      const back = yield* reopened(dataDir)
      const backOther = yield* reopened(dataDir, "other")
      expect(back.has("a")).toBe(true)
      expect(back.size + backOther.size).toBe(3) // "a", one of x/y, and the write after it on the healthy log
    }))

  it.skipIf(tmpfs === undefined)("on a real tmpfs that fills up: DiskFull, recover once space is freed, exactly the acknowledged writes reopen", async () => {
    const dataDir = path.join(tmpfs!, "data")
    const filler = path.join(tmpfs!, "filler")
    try {
      fs.writeFileSync(filler, Buffer.alloc(32 * 1024))
      const { acknowledged, error } = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const storage = Context.get(yield* Layer.build(Storage.layerFile({ dataDir })), Storage.Storage)
        const log = yield* storage.open("s")
        const { append, acknowledged } = writer(log, 2000)
        let error: unknown
        for (let i = 0; i < 1000 && error === undefined; i++) {
          const exit = yield* Effect.exit(append([`k${i}`, `k${i}-second`]))
          if (Exit.isFailure(exit)) error = yield* Effect.flip(exit)
        }
        expect(yield* Effect.flip(append(["refused"]))).toBe(error)
        fs.rmSync(filler)
        yield* log.recover
        yield* append(["after"])
        return { acknowledged, error }
      })).pipe(Effect.provide(NodeFileSystem.layer)))
      expect(error).toMatchObject({ _tag: "DiskFull" })
      expect(acknowledged.has("after")).toBe(true)
      const back = await Effect.runPromise(reopened(dataDir))
      expect(new Set(back.keys())).toEqual(new Set(acknowledged.keys()))
    } finally {
      unmountTmpfs(tmpfs!)
    }
  })
})
