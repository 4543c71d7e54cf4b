/**
 * Durable storage: puts per second for each sync policy with 1 and 100 concurrent writers, each
 * beside raw disk figures from the same run (node:fs, fdatasync per 100-byte record and per
 * batch of 100); the same at the `Storage` level, without the store in front; reopening a store
 * of 1M keys beside reading its files; bytes on disk per key.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV } from "../src/kv/KV.js"
import type { Change } from "../src/storage/Change.js"
import { Storage, layerFile, type SyncPolicy } from "../src/storage/Storage.js"
import { heading, opsPerSecond, report } from "./report.js"

const value = { text: "v".repeat(88) } // 100 bytes of JSON
const valueBytes = JSON.stringify(value).length

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-"))

/** Raw disk: 100-byte records appended with node:fs, one fdatasync per `perSync` records. */
const rawRecordsPerSecond = (perSync: number): number => {
  const dir = tempDir()
  const fd = fs.openSync(path.join(dir, "raw"), "a")
  const record = Buffer.alloc(100, 1)
  const batch = Buffer.alloc(100 * perSync, 1)
  const body = () => {
    if (perSync === 1) fs.writeSync(fd, record)
    else fs.writeSync(fd, batch)
    fs.fdatasyncSync(fd)
  }
  for (let i = 0; i < 20; i++) body() // warm-up
  let records = 0
  const start = performance.now()
  while (performance.now() - start < 1000) {
    body()
    records += perSync
  }
  const rate = records / ((performance.now() - start) / 1000)
  fs.closeSync(fd)
  fs.rmSync(dir, { recursive: true, force: true })
  return rate
}

/** Acknowledged puts per second into one store, from `writers` concurrent fibers. */
const putsPerSecond = async (sync: SyncPolicy, writers: number): Promise<number> => {
  const dataDir = tempDir()
  const runtime = ManagedRuntime.make(KV.layer({ dataDir, sync }))
  let n = 0
  const rate = await opsPerSecond(
    (count) =>
      runtime.runPromise(Effect.flatMap(KV, (kv) =>
        Effect.all(
          Array.from({ length: writers }, () =>
            Effect.forEach(
              Array.from({ length: count / writers }),
              () => kv.put("bench", `key-${n++ % 100_000}`, value),
              { discard: true }
            )),
          { concurrency: "unbounded", discard: true }
        ))),
    writers === 1 ? 50 : 2000
  )
  await runtime.dispose()
  fs.rmSync(dataDir, { recursive: true, force: true })
  return rate
}

/** Records per second appended straight to `Storage` (no store in front), `perAppend` a batch. */
const appendsPerSecond = async (sync: SyncPolicy, perAppend: number): Promise<number> => {
  const dataDir = tempDir()
  const storage = layerFile({ dataDir, sync, compaction: { minDeadRecords: Number.POSITIVE_INFINITY } })
  const json = JSON.stringify(value)
  const rate = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const log = yield* (yield* Storage).open("bench")
    // Compaction is off, so `after` (what a snapshot would be written from) is never read.
    const after = { entries: HashMap.make(["k", { value, version: 1, expiresAt: undefined }]), sequence: 1 }
    let version = 0
    const batch = () =>
      Array.from({ length: perAppend }, (): Change => ({ _tag: "Put", key: `key-${version % 100_000}`, value, json, version: ++version, expiresAt: undefined }))
    for (let i = 0; i < 20; i++) yield* log.append(batch(), after) // warm-up
    const start = performance.now()
    const first = version
    while (performance.now() - start < 1000) yield* log.append(batch(), after)
    return (version - first) / ((performance.now() - start) / 1000)
  })).pipe(Effect.provide(storage.pipe(Layer.provide(NodeFileSystem.layer)))))
  fs.rmSync(dataDir, { recursive: true, force: true })
  return rate
}

const reopen = async () => {
  const keys = 1_000_000
  const dataDir = tempDir()
  const key = (i: number) => `user:${String(i).padStart(7, "0")}`
  // Written straight to `Storage`, 1,000 puts per append: the store's log as 1M puts leave it.
  const json = JSON.stringify(value)
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const log = yield* (yield* Storage).open("big")
    let entries = log.recovered.entries
    for (let start = 0; start < keys; start += 1000) {
      const changes = Array.from({ length: 1000 }, (_, i): Change => ({
        _tag: "Put",
        key: key(start + i),
        value,
        json,
        version: start + i + 1,
        expiresAt: undefined
      }))
      entries = HashMap.mutate(entries, (map) => {
        for (const change of changes) HashMap.set(map, key(change.version - 1), { value, version: change.version, expiresAt: undefined })
      })
      yield* log.append(changes, { entries, sequence: start + 1000 })
    }
  })).pipe(Effect.provide(layerFile({ dataDir, sync: "none" }).pipe(Layer.provide(NodeFileSystem.layer)))))

  const files = fs.readdirSync(path.join(dataDir, "stores", "big")).map((file) => path.join(dataDir, "stores", "big", file))
  const bytes = files.reduce((sum, file) => sum + fs.statSync(file).size, 0)
  const readStart = performance.now()
  for (const file of files) fs.readFileSync(file)
  const readSeconds = (performance.now() - readStart) / 1000

  // No deadline: the first read waits for the whole reopen, which is what is measured.
  const reader = ManagedRuntime.make(KV.layer({ dataDir, callTimeout: Duration.infinity }))
  const openStart = performance.now()
  const size = await reader.runPromise(Effect.flatMap(KV, (kv) => kv.size("big")))
  const openSeconds = (performance.now() - openStart) / 1000
  await reader.dispose()
  fs.rmSync(dataDir, { recursive: true, force: true })
  if (size !== keys) throw new Error(`reopened ${size} keys, not ${keys}`)

  report("reopen a store of 1M keys (100-byte values)", openSeconds, "s", { label: "read its files", value: readSeconds })
  report("log bytes per put", bytes / keys, "B", { label: "key + value", value: key(0).length + valueBytes })
}

export const run = async () => {
  heading("storage (durable puts, one store, 100-byte values)")
  const rawPerRecord = rawRecordsPerSecond(1)
  const rawPerBatch = rawRecordsPerSecond(100)
  report("raw: fdatasync per 100-byte record", rawPerRecord, "records/s")
  report("raw: one fdatasync per batch of 100", rawPerBatch, "records/s")

  report("Storage.append, 1 record per fsync", await appendsPerSecond("always", 1), "records/s", {
    label: "raw fdatasync per record",
    value: rawPerRecord
  })
  report("Storage.append, batches of 100, 1 fsync each", await appendsPerSecond("always", 100), "records/s", {
    label: "raw fdatasync per 100",
    value: rawPerBatch
  })
  report("Storage.append, batches of 100, sync none", await appendsPerSecond("none", 100), "records/s", {
    label: "raw fdatasync per 100",
    value: rawPerBatch
  })

  const always1 = await putsPerSecond("always", 1)
  report("sync always, 1 writer", always1, "puts/s", { label: "raw fdatasync per record", value: rawPerRecord })
  const always100 = await putsPerSecond("always", 100)
  report("sync always, 100 writers", always100, "puts/s", { label: "raw fdatasync per 100", value: rawPerBatch })
  const none100 = await putsPerSecond("none", 100)
  report("sync always, 100 writers vs sync none", always100, "puts/s", { label: "sync none, 100 writers", value: none100 })
  for (const sync of ["interval", "none"] as const) {
    report(`sync ${sync}, 1 writer`, await putsPerSecond(sync, 1), "puts/s", { label: "raw fdatasync per record", value: rawPerRecord })
    const rate = sync === "none" ? none100 : await putsPerSecond(sync, 100)
    report(`sync ${sync}, 100 writers`, rate, "puts/s", { label: "raw fdatasync per 100", value: rawPerBatch })
  }
  await reopen()
}
