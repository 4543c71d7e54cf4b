/**
 * Supervision (issue: supervision): time from a store's crash to its next answered call, on file
 * storage, for an empty store and a store of 100k keys; beside, as baselines, the time to open
 * (replay) the same store's log from the same folder.
 *
 * A store is made to crash the way the tests do it: a storage wrapper whose next append dies, so
 * the store's handler really dies and its supervisor restarts it from its log.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KV } from "../src/kv/KV.js"
import type { StorageFailure } from "../src/storage/Errors.js"
import * as Storage from "../src/storage/Storage.js"
import { heading, report } from "./report.js"

const bigKeys = 100_000
const value = "v".repeat(100)

// Stores whose next append dies.
const crashNext = new Set<string>()

const crashable = (storage: Layer.Layer<Storage.Storage, StorageFailure>) =>
  Layer.effect(
    Storage.Storage,
    Effect.map(Storage.Storage, (inner) => ({
      ...inner,
      open: (store: string) =>
        Effect.map(inner.open(store), (log): Storage.StoreLog => ({
          ...log,
          append: (changes, after) =>
            Effect.suspend(() => crashNext.delete(store) ? Effect.dieMessage("injected crash") : log.append(changes, after))
        }))
    }))
  ).pipe(Layer.provide(storage))

const onDisk = (dataDir: string) =>
  Storage.layerFile({ dataDir, sync: "none" }).pipe(Layer.provide(NodeFileSystem.layer))

const kvOn = (storage: Layer.Layer<Storage.Storage, StorageFailure>) =>
  KV.layerWith({ storeRestarts: { maxRestarts: 1_000_000 } }).pipe(
    Layer.provide(crashable(storage)),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error)) // a restart warning per crash
  )

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

const median = (samples: ReadonlyArray<number>) => percentile([...samples].sort((a, b) => a - b), 0.5)

/** Crashes `store` `times` times; each sample is from its crash to its next acknowledged write. */
const crashToAnswer = (store: string, times: number) =>
  Effect.gen(function*() {
    const kv = yield* KV
    const samples: Array<number> = []
    for (let i = 0; i < times; i++) {
      crashNext.add(store)
      const crashed = yield* Effect.exit(kv.put(store, "crash", i))
      if (Exit.isSuccess(crashed)) return yield* Effect.dieMessage("the store did not crash")
      const start = performance.now()
      yield* kv.put(store, "after", i)
      samples.push(performance.now() - start)
    }
    return samples.sort((a, b) => a - b)
  })

/** Opens and closes `store`'s log `times` times on its own storage: the replay time. */
const replayTimes = (dataDir: string, store: string, times: number) =>
  Effect.gen(function*() {
    const storage = yield* Storage.Storage
    const samples: Array<number> = []
    for (let i = 0; i < times; i++) {
      const start = performance.now()
      yield* Effect.scoped(storage.open(store))
      samples.push(performance.now() - start)
    }
    return samples
  }).pipe(
    Effect.provide(Storage.layerFile({ dataDir, sync: "none" })),
    Effect.provide(NodeFileSystem.layer),
    Effect.runPromise
  )

export const run = async () => {
  heading("Supervision: a store's crash to its next answered call (file storage, sync none)")
  const dataDir = mkdtempSync(join(tmpdir(), "effect-kv-supervision-"))
  try {
    const layer = kvOn(onDisk(dataDir))

    const fill = ManagedRuntime.make(layer)
    await fill.runPromise(Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("empty", "seed", 0)
      yield* kv.clear("empty")
      yield* Effect.forEach(
        Array.from({ length: bigKeys }, (_, i) => `key-${i}`),
        (key) => kv.put("big", key, value),
        { concurrency: 1000, discard: true }
      )
      yield* kv.compact("big")
    }))
    await fill.dispose()

    const emptyReplay = median(await replayTimes(dataDir, "empty", 50))
    const bigReplay = median(await replayTimes(dataDir, "big", 5))

    const runtime = ManagedRuntime.make(layer)
    const empty = await runtime.runPromise(crashToAnswer("empty", 500))
    const big = await runtime.runPromise(crashToAnswer("big", 20))
    await runtime.dispose()

    report("empty store: crash → answer, median", percentile(empty, 0.5), "ms", {
      label: "open empty log",
      value: emptyReplay
    })
    report("empty store: crash → answer, p99", percentile(empty, 0.99), "ms", {
      label: "open empty log",
      value: emptyReplay
    })
    // Memory storage: the supervision's own share, beside one write's round trip.
    const memory = ManagedRuntime.make(kvOn(Storage.layerMemory))
    const put = await memory.runPromise(Effect.gen(function*() {
      const kv = yield* KV
      const samples: Array<number> = []
      for (let i = 0; i < 500; i++) {
        const start = performance.now()
        yield* kv.put("memory", "k", i)
        samples.push(performance.now() - start)
      }
      return median(samples)
    }))
    const inMemory = await memory.runPromise(crashToAnswer("memory", 500))
    await memory.dispose()
    report("in memory: crash → answer, median", percentile(inMemory, 0.5), "ms", { label: "one put", value: put })
    report("in memory: crash → answer, p99", percentile(inMemory, 0.99), "ms", { label: "one put", value: put })
    report(`${bigKeys / 1000}k keys: crash → answer, median`, percentile(big, 0.5), "ms", {
      label: "replay 100k keys",
      value: bigReplay
    })
    report(`${bigKeys / 1000}k keys: crash → answer, p99`, percentile(big, 0.99), "ms", {
      label: "replay 100k keys",
      value: bigReplay
    })
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}
