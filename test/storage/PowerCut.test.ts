/**
 * Simulated power cuts: a file system that, at a seeded moment, loses every byte no later fsync
 * covered (dropped, cut short or garbled) and undoes every rename whose folder was not fsynced.
 * Recovery must then hold every acknowledged write. `KV_POWER_SEEDS` sets how many seeds run.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { Acks, checkRecovered } from "./fixtures/Acks.js"
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

describe("power cut", () => {
  it("recovery holds every acknowledged write, whatever moment the power goes", async () => {
    for (let seed = 1; seed <= seeds; seed++) {
      const dataDir = tempDir()
      const disk = powerCut()
      const acks = new Acks()
      disk.cutAt(1 + Math.floor(random(seed)() * 300))
      await Effect.runPromise(workload({
        seed,
        workers: 4,
        writesPerWorker: 150,
        stores: ["one", "Two"],
        keys: 5,
        onAttempt: (write) => Effect.sync(() => acks.attempt(write)),
        onAck: (write, version) => acks.acknowledge(write, version)
      }).pipe(Effect.provide(kvOn(disk.layer, { dataDir, sync: "always", writers: 2, compaction: { minDeadRecords: 10 } }))))
      disk.reboot(seed)
      fs.rmSync(path.join(dataDir, "LOCK"), { force: true }) // the machine restarted: no process holds it
      const problems = await Effect.runPromise(checkRecovered(acks).pipe(Effect.provide(KV.layer({ dataDir }))))
      expect(problems, `seed ${seed}`).toEqual([])
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
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
