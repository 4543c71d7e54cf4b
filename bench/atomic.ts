/**
 * Atomic writes on disk with `sync: "always"`: 100 concurrent writers, each atomic write 10 puts
 * of 100-byte values, beside the same writers making the same 10 puts one after the other as
 * single puts. Both in operations (puts) per second, in interleaved rounds (`./rounds.ts`).
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV } from "../src/kv/KV.js"
import { effectOpsPerSecond, format, heading } from "./report.js"
import { compare } from "./rounds.js"

const writers = 100
const perWrite = 10
const value = { text: "v".repeat(88) } // 100 bytes of JSON
const millis = 1000

/** A `KV` on disk in a fresh folder, `sync: "always"`, until `dispose`. */
const onDisk = () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-"))
  const runtime = ManagedRuntime.make(KV.layer({ dataDir, sync: "always" }))
  return {
    runtime,
    dispose: async () => {
      await runtime.dispose()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

const keysOf = (i: number) => Array.from({ length: perWrite }, (_, j) => `key-${i % 10_000}-${j}`)

export const run = async () => {
  heading(`atomic writes (${perWrite} puts each, 100-byte values, ${writers} writers, sync always)`)
  const atomicSide = onDisk()
  const putSide = onDisk()
  const kvAtomic = await atomicSide.runtime.runPromise(KV)
  const kvPuts = await putSide.runtime.runPromise(KV)
  const atomic = {
    label: "atomic",
    run: () =>
      atomicSide.runtime.runPromise(effectOpsPerSecond(writers, (i) =>
        kvAtomic.atomic("bench", { ops: keysOf(i).map((key) => ({ op: "put" as const, key, value })) }), millis))
        .then((writes) => writes * perWrite)
  }
  const puts = {
    label: "single puts",
    run: () =>
      putSide.runtime.runPromise(effectOpsPerSecond(writers, (i) =>
        Effect.forEach(keysOf(i), (key) => kvPuts.put("bench", key, value), { discard: true }), millis))
        .then((units) => units * perWrite)
  }
  const result = await compare("puts/s, in atomic writes vs single", atomic, puts, { unit: "puts/s" })
  console.log(`  (${format(result.figure / perWrite)} atomic writes/s of ${perWrite} puts)`)
  await atomicSide.dispose()
  await putSide.dispose()
}
