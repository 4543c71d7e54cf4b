/**
 * Recovery from the files on disk: what a clean reopen returns for each sync policy, torn tails,
 * corruption in the middle of a log or in a snapshot, a compaction's leftover temporary file.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as path from "node:path"
import { KV } from "../../src/kv/KV.js"
import * as HashMap from "effect/HashMap"
import type { Change } from "../../src/storage/Change.js"
import { layout, storeFiles } from "../../src/storage/internal/dataDir.js"
import * as Storage from "../../src/storage/Storage.js"
import { verify } from "../../src/storage/Verify.js"
import { encodeChanges } from "../../src/storage/internal/record.js"
import { replayLog } from "../../src/storage/internal/recovery.js"
import { emptySnapshot } from "../../src/storage/Change.js"
import * as Either from "effect/Either"
import { powerCut } from "./fixtures/FaultyFileSystem.js"
import { after, put } from "./fixtures/Changes.js"
import { tempDir } from "./fixtures/TempDir.js"

const files = (dataDir: string, store: string) => storeFiles(layout(dataDir), store)

/** Runs `effect` on `KV.layer` over `dataDir`, opening and closing the folder around it. */
const withKV = <A, E>(dataDir: string, effect: Effect.Effect<A, E, KV>, options: Partial<Storage.FileOptions> = {}) =>
  Effect.provide(effect, KV.layer({ dataDir, ...options }))

const values = (store: string, keys: ReadonlyArray<string>) =>
  Effect.flatMap(KV, (kv) => Effect.forEach(keys, (key) => kv.getEntry(store, key)))

const verifyReport = (dataDir: string) => Effect.provide(verify(dataDir), NodeFileSystem.layer)

/** Writes puts k0…k{n-1} to `store`, one per batch, so each is one record. */
const writeKeys = (store: string, n: number) =>
  Effect.flatMap(KV, (kv) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => kv.put(store, `k${i}`, { i })))

describe("recovery", () => {
  for (const sync of ["always", "interval", "none"] as const) {
    it.scoped(`a clean reopen returns exactly what was acknowledged (sync: ${sync})`, () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`)
        const written = yield* withKV(
          dataDir,
          Effect.gen(function*() {
            const kv = yield* KV
            yield* Effect.forEach(keys, (key, i) => kv.put("s", key, { i, key }), { concurrency: 10 })
            yield* kv.delete("s", "key-3")
            yield* kv.put("s", "key-4", "changed")
            yield* kv.clear("other")
            return yield* values("s", keys)
          }),
          { sync, syncInterval: "1 hour" }
        )
        expect(yield* withKV(dataDir, values("s", keys))).toEqual(written)
        expect(Option.isNone(written[3]!)).toBe(true)
      }))
  }

  it.scoped("sync: interval holds every write acknowledged before the interval's fsync, through a power cut", () =>
    Effect.gen(function*() {
      for (const seed of [1, 2, 3, 4, 5]) {
        const dataDir = yield* tempDir
        const disk = powerCut()
        const layer = KV.layerWith().pipe(
          Layer.provide(Storage.layerFile({ dataDir, sync: "interval", syncInterval: "1 second" })),
          Layer.provide(disk.layer)
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const kv = Context.get(yield* Layer.build(layer), KV)
          for (const key of ["a", "b", "c"]) yield* kv.put("s", key, key)
          yield* TestClock.adjust("1 second") // the interval's fsync runs
          disk.cutAt(1)
          yield* Effect.exit(kv.put("s", "d", "d"))
        }))
        disk.reboot(seed)
        fs.rmSync(path.join(dataDir, "LOCK"), { force: true })
        const back = yield* withKV(dataDir, values("s", ["a", "b", "c"]))
        expect(back.map(Option.map((entry) => entry.value)), `seed ${seed}`).toEqual(["a", "b", "c"].map(Option.some))
      }
    }))

  it.scoped("a torn last record is cut off and logged; everything before it stays", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* withKV(dataDir, writeKeys("s", 5))
      const { log } = files(dataDir, "s")
      const whole = fs.readFileSync(log)
      const before = yield* withKV(dataDir, values("s", ["k0", "k1", "k2", "k3"]))
      const lastStart = recordStart(whole, 4)
      const lastRecord = whole.length - lastStart
      for (const keep of [1, 7, 8, 15, lastRecord - 1]) {
        fs.writeFileSync(log, whole.subarray(0, lastStart + keep))
        const report = yield* verifyReport(dataDir)
        expect(report.files.find((file) => file.file === log)?.status).toMatchObject({ _tag: "TornTail", records: 4 })
        expect(yield* withKV(dataDir, values("s", ["k0", "k1", "k2", "k3", "k4"]))).toEqual([...before, Option.none()])
        expect(fs.statSync(log).size).toBe(lastStart)
      }
      // Garbage in place of the last record is a torn tail too.
      fs.writeFileSync(log, Buffer.concat([whole.subarray(0, lastStart), Buffer.alloc(lastRecord, 0xab)]))
      expect(yield* withKV(dataDir, values("s", ["k4"]))).toEqual([Option.none()])
    }))

  it.scoped("a bad record followed by good ones fails with CorruptLog naming the file and offset", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* withKV(dataDir, Effect.zipRight(writeKeys("s", 5), writeKeys("healthy", 2)))
      const { log } = files(dataDir, "s")
      const bytes = fs.readFileSync(log)
      const offset = recordStart(bytes, 2)
      bytes[offset + 12] = bytes[offset + 12]! ^ 0xff // inside the third record's payload
      fs.writeFileSync(log, bytes)

      const report = yield* verifyReport(dataDir)
      expect(report.ok).toBe(false)
      expect(report.files.find((file) => file.file === log)?.status).toMatchObject({ _tag: "Corrupt", offset })

      const error = yield* withKV(dataDir, Effect.flip(Effect.flatMap(KV, (kv) => kv.get("s", "k0"))))
      expect(error).toMatchObject({ _tag: "CorruptLog", file: log, offset })
      expect(error.message).toContain(`${log} is corrupt at byte ${offset}`)
      // The damage stays in its store, and is never silently skipped or cut.
      expect(yield* withKV(dataDir, values("healthy", ["k1"]))).toMatchObject([Option.some({ value: { i: 1 } })])
      expect(fs.readFileSync(log)).toEqual(bytes)
    }))

  it.scoped("a damaged snapshot fails with CorruptLog naming it", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* withKV(dataDir, Effect.zipRight(writeKeys("s", 5), Effect.flatMap(KV, (kv) => kv.compact("s"))))
      const { snapshot } = files(dataDir, "s")
      const bytes = fs.readFileSync(snapshot)
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01
      fs.writeFileSync(snapshot, bytes)
      const error = yield* withKV(dataDir, Effect.flip(Effect.flatMap(KV, (kv) => kv.get("s", "k0"))))
      expect(error).toMatchObject({ _tag: "CorruptLog", file: snapshot })
    }))

  it.scoped("a compaction's leftover temporary file is deleted on open", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* withKV(dataDir, writeKeys("s", 3))
      const { temp } = files(dataDir, "s")
      fs.writeFileSync(temp, Buffer.from("half a snapshot"))
      expect((yield* verifyReport(dataDir)).files.map((file) => file.status._tag)).toContain("Leftover")
      expect(yield* withKV(dataDir, values("s", ["k2"]))).toMatchObject([Option.some({ value: { i: 2 } })])
      expect(fs.existsSync(temp)).toBe(false)
    }))

  it.scoped("compaction past the threshold keeps the log small and the state whole", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* withKV(
        dataDir,
        Effect.flatMap(KV, (kv) => Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => kv.put("s", `k${i % 10}`, i))),
        { compaction: { minDeadRecords: 20, deadRatio: 1 } }
      )
      const { log, snapshot } = files(dataDir, "s")
      expect(fs.existsSync(snapshot)).toBe(true)
      expect(fs.statSync(log).size).toBeLessThan(40 * 40)
      const back = yield* withKV(dataDir, values("s", ["k0", "k9"]))
      expect(back.map(Option.map((entry) => entry.value))).toEqual([Option.some(490), Option.some(499)])
    }))
})

/** `Storage.layerFile` on `dataDir`, on Node's file system. */
const storageOn = (dataDir: string) =>
  Effect.map(Layer.build(Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer))), Context.get(Storage.Storage))

/** Appends each batch to `store` (as its own append), and closes it. */
const appendAll = (dataDir: string, store: string, batches: ReadonlyArray<ReadonlyArray<Change>>) =>
  Effect.scoped(Effect.gen(function*() {
    const log = yield* (yield* storageOn(dataDir)).open(store)
    let state = log.recovered
    for (const batch of batches) {
      state = after(state, batch)
      yield* log.append(batch, state)
    }
  }))

/** `store`'s entries after a reopen, as plain objects, or the error it fails to open with. */
const reopenStore = (dataDir: string, store: string) =>
  Effect.scoped(Effect.gen(function*() {
    const log = yield* (yield* storageOn(dataDir)).open(store)
    return Object.fromEntries(HashMap.toEntries(log.recovered.entries))
  }))

describe("recovery of expiries and atomic writes", () => {
  const batches: ReadonlyArray<ReadonlyArray<Change>> = [
    [put("a", 1, 1, 500)],
    [{ _tag: "Touch", key: "a", version: 2, expiresAt: 900 }],
    [{ _tag: "Atomic", version: 3, changes: [put("b", "b", 3), put("c", "c", 3, 7), { _tag: "Delete", key: "a", version: 3 }] }],
    [{ _tag: "Expire", key: "c", version: 4 }],
    [{ _tag: "Atomic", version: 5, changes: [put("d", { big: "é".repeat(50) }, 5), put("e", "e", 5), { _tag: "Delete", key: "b", version: 5 }] }]
  ]
  const beforeLast = {
    b: { value: "b", version: 3, expiresAt: undefined }
  }

  it.scoped("a torn tail cut anywhere inside an atomic record drops the whole atomic write", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* appendAll(dataDir, "s", batches)
      const { log } = files(dataDir, "s")
      const whole = fs.readFileSync(log)
      const lastStart = recordStart(whole, 4)
      const lastLength = whole.length - lastStart
      expect(yield* reopenStore(dataDir, "s")).toStrictEqual({
        d: { value: { big: "é".repeat(50) }, version: 5, expiresAt: undefined },
        e: { value: "e", version: 5, expiresAt: undefined }
      })
      for (const keep of [1, 8, 9, 17, 22, Math.floor(lastLength / 2), lastLength - 1]) {
        fs.writeFileSync(log, whole.subarray(0, lastStart + keep))
        const report = yield* verifyReport(dataDir)
        expect(report.files.find((file) => file.file === log)?.status, `cut after ${keep} bytes`).toMatchObject({
          _tag: "TornTail",
          records: 4,
          offset: lastStart
        })
        expect(yield* reopenStore(dataDir, "s"), `cut after ${keep} bytes`).toStrictEqual(beforeLast)
        expect(fs.statSync(log).size).toBe(lastStart)
      }
    }))

  it.scoped("a bad atomic, touch or expire record in the middle fails with CorruptLog naming the file and offset", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* appendAll(dataDir, "s", batches)
      const { log } = files(dataDir, "s")
      const whole = fs.readFileSync(log)
      for (const index of [1, 2, 3]) {
        const bytes = Buffer.from(whole)
        const offset = recordStart(bytes, index)
        const lastByte = recordStart(bytes, index + 1) - 1 // of its payload: the key, or an atomic's last change
        bytes[lastByte] = bytes[lastByte]! ^ 0xff
        fs.writeFileSync(log, bytes)
        const error = yield* Effect.flip(reopenStore(dataDir, "s"))
        expect(error, `record ${index}`).toMatchObject({ _tag: "CorruptLog", file: log, offset })
        expect((yield* verifyReport(dataDir)).files.find((file) => file.file === log)?.status).toMatchObject({
          _tag: "Corrupt",
          offset
        })
        expect(fs.readFileSync(log)).toEqual(bytes)
      }
    }))

  it.scoped("verify counts the records of each file by kind", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* appendAll(dataDir, "s", [...batches, [{ _tag: "Clear", version: 6 }, put("f", 1, 7), { _tag: "Delete", key: "f", version: 8 }, put("g", 1, 9)]])
      const { log } = files(dataDir, "s")
      expect((yield* verifyReport(dataDir)).files.find((file) => file.file === log)?.status).toStrictEqual({
        _tag: "Ok",
        records: 9,
        kinds: { Put: 3, Delete: 1, Clear: 1, Expire: 1, Touch: 1, Atomic: 2 }
      })
    }))
  it("a value that is not JSON is corruption only while it is a key's value: overwritten or deleted, the log replays", () => {
    const bad = (key: string, version: number): Change => ({ ...put(key, 0, version), json: "{not json" })
    const replay = (changes: ReadonlyArray<Change>) => replayLog(Either.getOrThrow(encodeChanges(changes)), "log", emptySnapshot)
    const healed = replay([bad("a", 1), put("a", "ok", 2), bad("b", 3), { _tag: "Delete", key: "b", version: 4 }])
    expect(Either.isRight(healed) && [...healed.right.state.entries]).toEqual([["a", { value: "ok", version: 2, expiresAt: undefined }]])
    const first = Either.getOrThrow(encodeChanges([put("c", 1, 1)])).length
    const failed = replay([put("c", 1, 1), bad("c", 2), { _tag: "Touch", key: "c", version: 3, expiresAt: 5 }])
    expect(Either.isLeft(failed) && failed.left).toMatchObject({ _tag: "CorruptLog", file: "log", offset: first, reason: "value is not JSON" })
  })
})

/** The byte offset where record number `index` (from 0) of a log starts. */
const recordStart = (bytes: Buffer, index: number): number => {
  let offset = 0
  for (let i = 0; i < index; i++) offset += 8 + bytes.readUInt32LE(offset)
  return offset
}
