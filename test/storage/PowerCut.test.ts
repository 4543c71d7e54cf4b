/**
 * Simulated power cuts: a file system that, at a seeded moment, loses every byte no later fsync
 * covered (dropped, cut short or garbled) and undoes every rename whose folder was not fsynced.
 * Recovery must then hold every acknowledged write, and each atomic write entirely or not at all.
 * `KV_POWER_SEEDS` sets how many seeds run.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as HashMap from "effect/HashMap"
import { applyChange, type Change, type Entry, type Put } from "../../src/storage/Change.js"
import * as Storage from "../../src/storage/Storage.js"
import { Acks, checkRecovered } from "./fixtures/Acks.js"
import { AtomicAcks, atomicWorkload, checkAtomicGroups } from "./fixtures/AtomicGroups.js"
import { powerCut } from "./fixtures/FaultyFileSystem.js"
import { random, workload } from "./fixtures/Workload.js"

const seeds = Number(process.env.KV_POWER_SEEDS ?? 40)

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-power-"))

/** `KV` on the file storage of `dataDir` over a given file system. */
const kvOn = (fileSystem: Layer.Layer<import("@effect/platform/FileSystem").FileSystem>, options: Storage.FileOptions & KVOptions) =>
  KV.layerWith(options).pipe(Layer.provide(Storage.layerFile(options)), Layer.provide(fileSystem))

/** Every key of every store, as `store/key -> [version, json]`. */
const everything = Effect.gen(function*() {
  const kv = yield* KV
  const all: Record<string, [number, string]> = {}
  for (const store of yield* kv.stores) {
    let after: string | undefined
    do {
      const page = yield* kv.keys(store, { limit: 1000, ...(after === undefined ? {} : { after }) })
      for (const key of page.keys) {
        const entry = Option.getOrThrow(yield* kv.getEntry(store, key))
        all[`${store}/${key}`] = [entry.version, JSON.stringify(entry.value)]
      }
      after = Option.getOrUndefined(page.next)
    } while (after !== undefined)
  }
  return all
})

/** One store's changes as a worker appends them, batch by batch; it stops at its first failure. */
interface StoreRun {
  readonly changes: Array<Change>
  /** The version of the last change of the last acknowledged batch. */
  acknowledged: number
}

/** The entries `changes` lead to, taking those up to `sequence`. */
const modelAt = (changes: ReadonlyArray<Change>, sequence: number) => {
  let entries = HashMap.beginMutation(HashMap.empty<string, Entry>())
  for (const change of changes) if (change.version <= sequence) entries = applyChange(entries, change)
  return Object.fromEntries(HashMap.toEntries(HashMap.endMutation(entries)))
}

/**
 * Appends seeded batches of every kind of change (puts with and without expiry, deletes, touches,
 * expiries, atomic writes of 2 to 5 puts and deletes, a rare clear) to `store` until `batches` or a failure.
 */
const storeWorkload = (log: Storage.StoreLog, next: () => number, batches: number, run: StoreRun) =>
  Effect.gen(function*() {
    let state = log.recovered
    let sequence = state.sequence
    let n = 0
    const key = () => `k${Math.floor(next() * 6)}`
    const put = (version: number): Put => {
      const value = { n: n++, text: "é\"".repeat(Math.floor(next() * 20)) }
      return { _tag: "Put", key: key(), value, json: JSON.stringify(value), version, expiresAt: next() < 0.3 ? 1e12 + n : undefined }
    }
    for (let b = 0; b < batches; b++) {
      let entries = HashMap.beginMutation(state.entries)
      const batch: Array<Change> = []
      const size = 1 + Math.floor(next() * 3)
      for (let i = 0; i < size; i++) {
        const version = ++sequence
        const roll = next()
        const existing = Array.from(HashMap.keys(entries))
        const some = existing[Math.floor(next() * existing.length)]
        const change: Change = roll < 0.35
          ? {
            _tag: "Atomic",
            version,
            changes: Array.from({ length: 2 + Math.floor(next() * 4) }, () =>
              next() < 0.75 ? put(version) : { _tag: "Delete" as const, key: key(), version })
          }
          : roll < 0.45 && some !== undefined
          ? { _tag: "Touch", key: some, version, expiresAt: next() < 0.5 ? undefined : 2e12 + version }
          : roll < 0.52 && some !== undefined
          ? { _tag: "Expire", key: some, version }
          : roll < 0.6 && some !== undefined
          ? { _tag: "Delete", key: some, version }
          : roll < 0.61
          ? { _tag: "Clear", version }
          : put(version)
        entries = applyChange(entries, change)
        batch.push(change)
      }
      const after = { entries: HashMap.endMutation(entries), sequence }
      run.changes.push(...batch)
      if ((yield* Effect.either(log.append(batch, after)))._tag === "Left") return
      run.acknowledged = sequence
      state = after
    }
  })

describe("power cut", () => {
  it("recovery holds every acknowledged write and each atomic write whole or not at all, whatever moment the power goes", async () => {
    let atomicWrites = 0
    for (let seed = 1; seed <= seeds; seed++) {
      const dataDir = tempDir()
      const disk = powerCut()
      const acks = new Acks()
      const atomicAcks = new AtomicAcks()
      disk.cutAt(1 + Math.floor(random(seed)() * 300))
      await Effect.runPromise(Effect.zip(
        workload({
          seed,
          workers: 4,
          writesPerWorker: 150,
          stores: ["one", "Two"],
          keys: 5,
          onAttempt: (write) => Effect.sync(() => acks.attempt(write)),
          onAck: (write, version) => acks.acknowledge(write, version)
        }),
        atomicWorkload({
          store: "three",
          workers: 3,
          writesPerWorker: 50,
          onAttempt: (write) => Effect.sync(() => atomicAcks.attempt(write)),
          onAck: (write, version) => atomicAcks.acknowledge(write, version)
        }),
        { concurrent: true }
      ).pipe(Effect.provide(kvOn(disk.layer, { dataDir, sync: "always", writers: 2, compaction: { minDeadRecords: 10 } }))))
      disk.reboot(seed)
      fs.rmSync(path.join(dataDir, "LOCK"), { force: true }) // the machine restarted: no process holds it
      const problems = await Effect.runPromise(
        Effect.zipWith(checkRecovered(acks), checkAtomicGroups(atomicAcks, "three"), (a, b) => [...a, ...b]).pipe(
          Effect.provide(KV.layer({ dataDir }))
        )
      )
      expect(problems, `seed ${seed}`).toEqual([])
      atomicWrites += atomicAcks.acknowledged
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
    expect(atomicWrites).toBeGreaterThan(0)
  })

  it("at the Storage level, every kind of change and each atomic write is entirely there or entirely absent", async () => {
    let atomicsApplied = 0
    let atomicsLost = 0
    for (let seed = 1; seed <= seeds; seed++) {
      const dataDir = tempDir()
      const disk = powerCut()
      const next = random(seed * 7919)
      disk.cutAt(1 + Math.floor(next() * 200))
      const runs = new Map<string, StoreRun>([["one", { changes: [], acknowledged: 0 }], ["Two", { changes: [], acknowledged: 0 }]])
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* Effect.forEach(runs, ([store, run]) =>
          Effect.flatMap(storage.open(store), (log) => storeWorkload(log, random(seed * 31 + store.length), 60, run)), {
          concurrency: "unbounded",
          discard: true
        })
      })).pipe(
        Effect.provide(Storage.layerFile({ dataDir, sync: "always", writers: 2, compaction: { minDeadRecords: 10 } }).pipe(
          Layer.provide(disk.layer)
        ))
      ))
      disk.reboot(seed)
      fs.rmSync(path.join(dataDir, "LOCK"), { force: true })
      const recovered = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const storage = yield* Storage.Storage
        return yield* Effect.forEach(runs, ([store]) => Effect.map(storage.open(store), (log) => [store, log.recovered] as const))
      })).pipe(Effect.provide(Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer)))))
      for (const [store, snapshot] of recovered) {
        const run = runs.get(store)!
        const where = `seed ${seed}, store ${store}`
        // Every acknowledged change is there, and the state is exactly that of a whole prefix of changes.
        expect(snapshot.sequence, where).toBeGreaterThanOrEqual(run.acknowledged)
        expect(snapshot.sequence === 0 || run.changes.some((change) => change.version === snapshot.sequence), where).toBe(true)
        expect(Object.fromEntries(HashMap.toEntries(snapshot.entries)), where).toStrictEqual(modelAt(run.changes, snapshot.sequence))
        for (const change of run.changes) {
          if (change._tag !== "Atomic") continue
          if (change.version <= snapshot.sequence) atomicsApplied++
          else atomicsLost++
        }
      }
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
    // The seeds cut both before and after atomic writes.
    expect(atomicsApplied).toBeGreaterThan(0)
    expect(atomicsLost).toBeGreaterThan(0)
  })

  it("a cut at each step of compaction leaves the old state or the new, never neither", async () => {
    const setup = tempDir()
    await Effect.runPromise(Effect.gen(function*() {
      const kv = yield* KV
      for (let i = 0; i < 40; i++) yield* kv.put("s", `k${i % 8}`, { i, text: "é".repeat(i) })
      yield* kv.delete("s", "k3")
      yield* kv.clear("empty")
      yield* kv.put("s", "k3", "back")
    }).pipe(Effect.provide(KV.layer({ dataDir: setup, compaction: { minDeadRecords: 1e9 } }))))
    const before = await Effect.runPromise(everything.pipe(Effect.provide(KV.layer({ dataDir: setup }))))

    // How many operations a compaction makes, counted on an uncut copy.
    const dataDir = tempDir()
    fs.cpSync(setup, dataDir, { recursive: true })
    const uncut = powerCut()
    const steps = await Effect.runPromise(Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.size("s")
      const start = uncut.operations()
      yield* kv.compact("s")
      return uncut.operations() - start
    }).pipe(Effect.provide(kvOn(uncut.layer, { dataDir }))))
    expect(steps).toBeGreaterThanOrEqual(6) // write, fsync, rename, fsync folder, truncate, fsync

    // Step `steps + 1` is a cut just after the compaction finished.
    for (let step = 1; step <= steps + 1; step++) {
      for (const seed of [step, step + 100, step + 200]) {
        const dataDir = tempDir()
        fs.cpSync(setup, dataDir, { recursive: true })
        const disk = powerCut()
        const exit = await Effect.runPromiseExit(Effect.gen(function*() {
          const kv = yield* KV
          yield* kv.size("s")
          disk.cutAt(step)
          yield* kv.compact("s")
        }).pipe(Effect.provide(kvOn(disk.layer, { dataDir }))))
        expect(exit._tag, `step ${step}`).toBe(step <= steps ? "Failure" : "Success")
        disk.reboot(seed)
        fs.rmSync(path.join(dataDir, "LOCK"), { force: true })
        const after = await Effect.runPromise(everything.pipe(Effect.provide(KV.layer({ dataDir }))))
        expect(after, `cut at step ${step} of ${steps}, seed ${seed}`).toEqual(before)
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    }
  })
})
