/**
 * In-process speed and memory of the `KV` service on memory storage (issue: foundation).
 *
 * - reads/s with 1 caller, beside a plain `Map.get` loop and a bare `Ref.get` + `HashMap.get`
 *   loop in Effect;
 * - acknowledged writes/s with 1 and 100 concurrent callers on one store, beside a bare
 *   `Ref.update` + `HashMap.set` from as many fibers, and a plain `Map.set` loop;
 * - heap taken by 1M keys with 100-byte string values, beside a plain `Map` of the same data.
 */
import { Duration, Effect, HashMap, Layer, ManagedRuntime, Ref } from "effect"
import { KV } from "../src/kv/KV.js"
import { heading, report } from "./report.js"

const keyCount = 10_000
const keys = Array.from({ length: keyCount }, (_, i) => `key-${i}`)
const value = "v".repeat(100)
const seconds = 1

/** Runs `step` in a loop from `callers` fibers for `seconds`; returns steps per second. */
const throughput = <E>(callers: number, step: (i: number) => Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    let count = 0
    const deadline = performance.now() + seconds * 1000
    const caller = (offset: number) =>
      Effect.gen(function*() {
        let i = offset
        while (performance.now() < deadline) {
          // 100 steps between clock reads keeps the clock out of the figure.
          for (let j = 0; j < 100; j++) yield* step(i++ % keyCount)
          count += 100
        }
      })
    const start = performance.now()
    yield* Effect.all(Array.from({ length: callers }, (_, c) => caller(c * 97)), { concurrency: "unbounded" })
    return count / ((performance.now() - start) / 1000)
  })

const plainLoop = (body: (i: number) => void) => {
  let count = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    for (let j = 0; j < 10_000; j++) body(count++ % keyCount)
  }
  return count / ((performance.now() - start) / 1000)
}

const heapAfter = async (build: () => Promise<unknown>) => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const before = process.memoryUsage().heapUsed
  const held = await build()
  gc?.()
  const bytes = process.memoryUsage().heapUsed - before
  return { bytes, held }
}

export const run = async () => {
  heading("KV in memory: reads and writes (one store, 10,000 keys, 100-byte values)")
  const runtime = ManagedRuntime.make(KV.layerMemory({ callTimeout: Duration.seconds(30) }))
  await runtime.runPromise(Effect.gen(function*() {
    const kv = yield* KV
    yield* Effect.forEach(keys, (key) => kv.put("bench", key, value), { concurrency: 100, discard: true })

    const map = new Map(keys.map((key) => [key, value]))
    const plainReads = plainLoop((i) => map.get(keys[i]!))
    const ref = yield* Ref.make(HashMap.fromIterable(keys.map((key) => [key, value] as const)))
    const refReads = yield* throughput(1, (i) => Effect.map(Ref.get(ref), HashMap.get(keys[i]!)))
    const kvReads = yield* throughput(1, (i) => kv.get("bench", keys[i]!))
    report("reads/s, 1 caller", kvReads, "ops/s", { label: "Ref.get+HashMap.get", value: refReads })
    report("", kvReads, "ops/s", { label: "plain Map.get", value: plainReads })

    const plainWrites = plainLoop((i) => void map.set(keys[i]!, value))
    for (const callers of [1, 100]) {
      const refWrites = yield* throughput(callers, (i) => Ref.update(ref, HashMap.set(keys[i]!, value)))
      const kvWrites = yield* throughput(callers, (i) => kv.put("bench", keys[i]!, value))
      report(`acknowledged writes/s, ${callers} caller(s)`, kvWrites, "ops/s", {
        label: "Ref.update+HashMap.set",
        value: refWrites
      })
      report("", kvWrites, "ops/s", { label: "plain Map.set", value: plainWrites })
    }
  }))
  await runtime.dispose()

  heading("KV in memory: heap for 1,000,000 keys with 100-byte string values")
  const count = 1_000_000
  const valueOf = (i: number) => `${i}`.padStart(100, "x")
  const plain = await heapAfter(async () => {
    const map = new Map<string, string>()
    for (let i = 0; i < count; i++) map.set(`key-${i}`, valueOf(i))
    return map
  })
  const plainBytes = plain.bytes
  plain.held = undefined
  const memory = ManagedRuntime.make(Layer.fresh(KV.layerMemory({ callTimeout: Duration.minutes(5) })))
  const stored = await heapAfter(() =>
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
  report("heap, 1M keys", stored.bytes / 2 ** 20, "MiB", { label: "plain Map", value: plainBytes / 2 ** 20 })
  await memory.dispose()
  if ((globalThis as { gc?: () => void }).gc === undefined) console.log("  (run node with --expose-gc for exact heap figures)")
}
