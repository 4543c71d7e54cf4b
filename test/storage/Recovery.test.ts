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
import { storeFiles, layout } from "../../src/storage/internal/dataDir.js"
import * as Storage from "../../src/storage/Storage.js"
import { verify } from "../../src/storage/Verify.js"
import { powerCut } from "./fixtures/FaultyFileSystem.js"
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

/** The byte offset where record number `index` (from 0) of a log starts. */
const recordStart = (bytes: Buffer, index: number): number => {
  let offset = 0
  for (let i = 0; i < index; i++) offset += 8 + bytes.readUInt32LE(offset)
  return offset
}
