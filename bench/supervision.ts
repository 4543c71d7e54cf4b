/**
 * Supervision (issue: supervision): time from a store's crash to its next answered call. For an
 * empty store on file storage and a store in memory, in interleaved rounds (`./rounds.ts`) beside
 * one put's round trip on the same storage; for a store of 100k keys on file storage, beside the
 * time to open (replay) its log from the same folder.
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
import { compare } from "./rounds.js"

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

/** The median of `times` puts to `store`, one after the other, in ms. */
const putTimes = (store: string, times: number) =>
  Effect.gen(function*() {
    const kv = yield* KV
    const samples: Array<number> = []
    for (let i = 0; i < times; i++) {
      const start = performance.now()
      yield* kv.put(store, "put", i)
      samples.push(performance.now() - start)
    }
    return median(samples)
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

    const bigReplay = median(await replayTimes(dataDir, "big", 5))

    // The empty store and memory storage in interleaved rounds, each beside one put's round trip
    // on the same storage; each round's p99 kept, and their median printed.
    const crashes = 100
    const inRounds = async (runtime: ManagedRuntime.ManagedRuntime<KV, StorageFailure>, store: string, label: string) => {
      const p99s: Array<number> = []
      await compare(`${label}: crash → answer, median`, {
        label: "crash → answer",
        run: async () => {
          const samples = await runtime.runPromise(crashToAnswer(store, crashes))
          p99s.push(percentile(samples, 0.99))
          return percentile(samples, 0.5)
        }
      }, { label: "one put", run: () => runtime.runPromise(putTimes(store, crashes)) }, { unit: "ms" })
      report(`${label}: crash → answer, p99 (median of the rounds)`, median(p99s), "ms")
    }
    const runtime = ManagedRuntime.make(layer)
    await inRounds(runtime, "empty", "empty file store")
    const big = await runtime.runPromise(crashToAnswer("big", 20))
    await runtime.dispose()
    const memory = ManagedRuntime.make(kvOn(Storage.layerMemory))
    await inRounds(memory, "memory", "in memory")
    await memory.dispose()
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
