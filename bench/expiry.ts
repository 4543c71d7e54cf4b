/**
 * Expiry, in interleaved rounds (`./rounds.ts`):
 *
 * - heap per key of 200,000 keys with a ttl, beside the same keys without (memory storage);
 * - the time for a store on disk (`sync: "always"`) to expire 100,000 keys whose deadline has
 *   passed, from the first write after it to the last `Expire` in the log, beside deleting the
 *   same keys with single deletes from 100 writers.
 */
import { Clock, Context, Duration, Effect, Layer, ManagedRuntime, Metric } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV, type KVService } from "../src/kv/KV.js"
import { expiredKeys } from "../src/kv/Store.js"
import { heading, heapAfter } from "./report.js"
import { compare } from "./rounds.js"

const value = { text: "v".repeat(88) } // 100 bytes of JSON

/** Puts `count` keys through atomic writes of 1,000, with a ttl if given. */
const fill = (kv: KVService, store: string, count: number, ttl?: Duration.DurationInput) =>
  Effect.forEach(
    Array.from({ length: count / 1000 }, (_, chunk) => chunk),
    (chunk) =>
      kv.atomic(store, {
        ops: Array.from({ length: 1000 }, (_, i) => ({
          op: "put" as const,
          key: `key-${chunk * 1000 + i}`,
          value,
          ...(ttl === undefined ? {} : { ttl })
        }))
      }),
    { discard: true }
  )

/** Bytes of heap per key for `count` keys in memory, with or without a ttl. */
const bytesPerKey = (count: number, ttl?: Duration.DurationInput) => async () => {
  const runtime = ManagedRuntime.make(Layer.fresh(KV.layerMemory()))
  const mib = await heapAfter(() => runtime.runPromise(Effect.flatMap(KV, (kv) => Effect.as(fill(kv, "memory", count, ttl), kv))))
  await runtime.dispose()
  return (mib * 2 ** 20) / count
}

const realClock = Clock.make()

/** A clock an hour ahead once `jump` is called, sleeping as the real one does. */
const jumpingClock = () => {
  let offset = 0
  const now = () => Date.now() + offset
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(now()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
    sleep: (duration) => realClock.sleep(duration)
  }
  return { clock, jump: () => offset += 3_600_000 }
}

const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Milliseconds for `remove` to take 100,000 keys with a ttl of an hour out of a store on disk. */
const removal = (remove: (kv: KVService, jump: () => void) => Effect.Effect<void, unknown>) => async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-"))
  const { clock, jump } = jumpingClock()
  const millis = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const kv = Context.get(yield* Layer.build(KV.layer({ dataDir, sync: "always", callTimeout: "1 minute" })), KV)
    yield* fill(kv, "expiring", 100_000, "1 hour")
    const start = performance.now()
    yield* remove(kv, jump)
    const elapsed = performance.now() - start
    if ((yield* kv.size("expiring")) !== 0) return yield* Effect.dieMessage("keys left after the removal")
    return elapsed
  })).pipe(Effect.withClock(clock)))
  fs.rmSync(dataDir, { recursive: true, force: true })
  return millis
}

const byExpiry = removal((kv, jump) =>
  Effect.gen(function*() {
    const before = (yield* Metric.value(expiredKeys)).count
    jump()
    // The first write after the deadline (a delete of no key) starts the expiry; it goes on by itself.
    yield* kv.delete("expiring", "no-such-key")
    while ((yield* Metric.value(expiredKeys)).count - before < 100_000) yield* turn
  })
)

const byDeletes = removal((kv) =>
  Effect.forEach(
    Array.from({ length: 100 }, (_, writer) => writer),
    (writer) =>
      Effect.forEach(Array.from({ length: 1000 }, (_, i) => `key-${writer * 1000 + i}`), (key) => kv.delete("expiring", key), {
        discard: true
      }),
    { concurrency: "unbounded", discard: true }
  )
)

export const run = async () => {
  heading("expiry: heap per key (200,000 keys, 100-byte values, memory)")
  await compare("heap per key, with a ttl vs without", { label: "ttl", run: bytesPerKey(200_000, "1 hour") }, {
    label: "no ttl",
    run: bytesPerKey(200_000)
  }, { unit: "B/key" })
  if ((globalThis as { gc?: () => void }).gc === undefined) console.log("  (run node with --expose-gc for exact heap figures)")

  heading("expiry: removing 100,000 keys from a store on disk (sync always)")
  await compare("ms to remove, expiry vs single deletes", { label: "expiry", run: byExpiry }, {
    label: "100 writers deleting",
    run: byDeletes
  }, { unit: "ms" })
}
