/**
 * One side of `bench/scale.ts`'s reopen and heap figures, in a fresh process so that no round
 * inherits another's heap: `node --expose-gc scaleChild.js kv|plain DATA_DIR KEY`. It prints one
 * line of JSON: the CPU milliseconds (every thread of the process, the collector's too) from the
 * start of the reopen to the first answer (the value of `KEY`), then the MiB of heap the reopened
 * state holds after full collections.
 *
 * - `kv`: `KV.layer` on the data folder; the first answer is `kv.get`.
 * - `plain`: a plain-JS replay of the same files: each record's checksum checked, its key and
 *   JSON value decoded and parsed, into a `Map` of key to value; the first answer is `Map.get`.
 */
import { Duration, Effect, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { crc32 } from "node:zlib"
import { KV } from "../src/kv/KV.js"

const [mode, dataDir, key] = process.argv.slice(2) as [string, string, string]
const store = "big"

const cpuMillis = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

const collect = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run with node --expose-gc")
  let previous = Infinity
  for (let i = 0; i < 20; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const used = process.memoryUsage().heapUsed
    if (previous - used < 2 ** 20) return used
    previous = used
  }
  return process.memoryUsage().heapUsed
}

/** A plain replay: puts only (kinds 1 and 4's header skipped), as the benchmark writes them. */
const replay = (): Map<string, unknown> => {
  const map = new Map<string, unknown>()
  for (const file of ["snapshot", "log"]) {
    const at = path.join(dataDir, "stores", store, file)
    if (!fs.existsSync(at)) continue
    const bytes = fs.readFileSync(at)
    let offset = 0
    while (offset < bytes.length) {
      const length = bytes.readUInt32LE(offset)
      const at = offset + 8
      const end = at + length
      if (crc32(bytes.subarray(at, end)) !== bytes.readUInt32LE(offset + 4)) throw new Error(`bad record at ${offset}`)
      if (bytes[at] === 1) {
        const keyEnd = at + 13 + bytes.readUInt32LE(at + 9)
        map.set(bytes.toString("utf8", at + 13, keyEnd), JSON.parse(bytes.toString("utf8", keyEnd, end)))
      }
      offset = end
    }
  }
  return map
}

const before = await collect()
let held: unknown
let answer: unknown
const start = cpuMillis()
if (mode === "kv") {
  const runtime = ManagedRuntime.make(KV.layer({ dataDir, callTimeout: Duration.infinity }))
  answer = await runtime.runPromise(Effect.flatMap(KV, (kv) => kv.get(store, key)))
  held = runtime
} else {
  const map = replay()
  answer = map.get(key)
  held = map
}
const cpu = cpuMillis() - start
const heap = ((await collect()) - before) / 2 ** 20
if (answer === undefined || held === undefined) throw new Error(`no answer for ${key}`)
console.log(JSON.stringify({ cpu, heap }))
if (held instanceof Map) held.clear()
else await (held as ManagedRuntime.ManagedRuntime<KV, unknown>).dispose()
