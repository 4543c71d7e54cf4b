/**
 * In-process speed and memory of the `KV` service, each figure beside its baseline in interleaved
 * rounds (`./rounds.ts`):
 *
 * - reads/s with 1 caller of 100,000 keys in a scattered order, beside Elixir's GenServer `get`
 *   on the same data (when `elixir` is on the PATH: `./anchors.ts`), a bare `Ref.get` +
 *   `HashMap.get` loop in Effect and a plain `Map.get` loop;
 * - acknowledged writes/s in memory with 1 and 100 concurrent callers on one store, beside a bare
 *   `Ref.update` + `HashMap.set` from as many fibers, and a plain `Map.set` loop;
 * - durable puts/s on disk, 100 writers on one store: `sync: "always"` beside Redis `SET` with
 *   `appendfsync always` from 50 clients (when `redis-server` is on the PATH), and `sync: "none"`
 *   beside `"always"`;
 * - heap taken by 1M keys with 100-byte string values, beside a plain `Map` of the same data.
 */
import { Duration, Effect, HashMap, Layer, ManagedRuntime, Ref } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV } from "../src/kv/KV.js"
import { elixirGets, redisAlways } from "./anchors.js"
import { effectOpsPerSecond, heading, heapAfter } from "./report.js"
import { compare } from "./rounds.js"

const keyCount = 100_000
const keys = Array.from({ length: keyCount }, (_, i) => `key-${i}`)
// A permutation of the keys (7919 is prime to 100,000), as the Elixir anchor reads them.
const scattered = Array.from({ length: keyCount }, (_, i) => keys[(i * 7919) % keyCount]!)
const value = "v".repeat(100)
const millis = 1000

const plainLoop = async (body: (i: number) => void) => {
  let count = 0
  const start = performance.now()
  while (performance.now() - start < millis) {
    for (let j = 0; j < 10_000; j++) body(count++ % keyCount)
  }
  return count / ((performance.now() - start) / 1000)
}

export const run = async () => {
  heading("KV in memory: reads of 100,000 keys in a scattered order, 1 caller (100-byte values)")
  const runtime = ManagedRuntime.make(KV.layerMemory({ callTimeout: Duration.seconds(30) }))
  const kv = await runtime.runPromise(KV)
  await runtime.runPromise(
    Effect.forEach(keys, (key) => kv.put("bench", key, value), { concurrency: 100, discard: true })
  )
  const map = new Map(keys.map((key) => [key, value]))
  const ref = Ref.unsafeMake(HashMap.fromIterable(keys.map((key) => [key, value] as const)))
  const rate = <E>(callers: number, step: (i: number) => Effect.Effect<unknown, E>) => () =>
    runtime.runPromise(effectOpsPerSecond(callers, (i) => step(i % keyCount), millis))

  const kvReads = { label: "KV.get", run: rate(1, (i) => kv.get("bench", scattered[i]!)) }
  const elixir = elixirGets()
  if (elixir !== undefined) {
    await compare("reads/s, 1 caller", kvReads, { label: "Elixir GenServer get", run: () => elixir(millis) }, {
      unit: "ops/s"
    })
  }
  await compare("", kvReads, {
    label: "Ref.get+HashMap.get",
    run: rate(1, (i) => Effect.map(Ref.get(ref), HashMap.get(scattered[i]!)))
  }, { unit: "ops/s" })
  await compare("", kvReads, { label: "plain Map.get", run: () => plainLoop((i) => map.get(scattered[i]!)) }, {
    unit: "ops/s"
  })

  heading("KV in memory: acknowledged writes (one store, 100,000 keys, 100-byte values)")
  for (const callers of [1, 100]) {
    const kvWrites = { label: "KV.put", run: rate(callers, (i) => kv.put("bench", keys[i]!, value)) }
    await compare(`acknowledged writes/s, ${callers} caller(s)`, kvWrites, {
      label: "Ref.update+HashMap.set",
      run: rate(callers, (i) => Ref.update(ref, HashMap.set(keys[i]!, value)))
    }, { unit: "ops/s" })
    await compare("", kvWrites, { label: "plain Map.set", run: () => plainLoop((i) => void map.set(keys[i]!, value)) }, {
      unit: "ops/s"
    })
  }
  await runtime.dispose()

  heading("KV on disk: durable puts, 100 writers on one store (100-byte values over 10,000 keys)")
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-"))
  const onDisk = (sync: "always" | "none") =>
    ManagedRuntime.make(KV.layer({ dataDir: path.join(dataDir, sync), sync, callTimeout: Duration.seconds(30) }))
  const always = onDisk("always")
  const none = onDisk("none")
  const puts = (disk: typeof always) => () =>
    disk.runPromise(Effect.flatMap(KV, (kv) =>
      effectOpsPerSecond(100, (i) => kv.put("bench", keys[i % 10_000]!, value), millis)))
  const alwaysPuts = { label: "KV.put always", run: puts(always) }
  const redis = await redisAlways()
  if (redis !== undefined) {
    try {
      await compare("durable puts/s", alwaysPuts, {
        label: "Redis SET always, 50 clients",
        run: () => redis.sets(50, 20_000)
      }, { unit: "ops/s" })
    } finally {
      redis.stop()
    }
  }
  await compare("", { label: "KV.put sync none", run: puts(none) }, alwaysPuts, { unit: "ops/s" })
  await always.dispose()
  await none.dispose()
  fs.rmSync(dataDir, { recursive: true, force: true })

  heading("KV in memory: heap for 1,000,000 keys with 100-byte string values")
  const count = 1_000_000
  const valueOf = (i: number) => `${i}`.padStart(100, "x")
  const plainHeap = () =>
    heapAfter(async () => {
      const map = new Map<string, string>()
      for (let i = 0; i < count; i++) map.set(`key-${i}`, valueOf(i))
      return map
    })
  const kvHeap = async () => {
    const memory = ManagedRuntime.make(Layer.fresh(KV.layerMemory({ callTimeout: Duration.minutes(5) })))
    const mib = await heapAfter(() =>
      memory.runPromise(Effect.gen(function*() {
        const kv = yield* KV
        for (let start = 0; start < count; start += 10_000) {
          yield* Effect.forEach(
            Array.from({ length: 10_000 }, (_, j) => start + j),
            (i) => kv.put("memory", `key-${i}`, valueOf(i)),
            { concurrency: 1000, discard: true }
          )
        }
        return yield* kv.size("memory")
      }))
    )
    await memory.dispose()
    return mib
  }
  await compare("heap, 1M keys", { label: "KV", run: kvHeap }, { label: "plain Map", run: plainHeap }, {
    unit: "MiB",
    warmup: 0
  })
  if ((globalThis as { gc?: () => void }).gc === undefined) console.log("  (run node with --expose-gc for exact heap figures)")
}
