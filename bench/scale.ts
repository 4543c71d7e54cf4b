/**
 * Storage at scale, each figure beside its baseline in interleaved rounds (`./rounds.ts`), on a
 * store of 1M keys with 100-byte values, written in shuffled key order as 1M puts leave its log:
 *
 * - reopen, CPU to the first answer, beside a plain-JS replay of the same files into a `Map`;
 * - heap the reopened store holds, beside that `Map` of the same flat strings;
 *   both in fresh processes (`./scaleChild.ts`, with `--expose-gc`), one per side and round;
 * - a page of 100 keys at 1M keys beside a page at 1k keys (random cursors and prefixes), and
 *   the first page after a reopen, which sorts the keys once;
 * - exporting 1M keys, per key, beside exporting 1k keys.
 *
 * `npm run bench scale -- --pages-only` skips the reopen and heap rounds (the longest part);
 * `--reopen-only` runs only them.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Duration, Effect, HashMap, Layer, ManagedRuntime } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { KV } from "../src/kv/KV.js"
import type { Change } from "../src/storage/Change.js"
import { layerFile, Storage } from "../src/storage/Storage.js"
import { heading, report } from "./report.js"
import { compare } from "./rounds.js"

const keyCount = 1_000_000
const keyOf = (i: number) => `user:${String(i).padStart(7, "0")}`
// 100 characters, different for each key, so that no two entries share a string.
const valueOf = (i: number) => `${i}:`.padEnd(100, "v")

/** A seeded shuffle of 0..n-1: the order the keys were written in. */
const shuffled = (n: number): Array<number> => {
  const order = Array.from({ length: n }, (_, i) => i)
  let seed = 13
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const j = Math.floor((seed / 2147483648) * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  return order
}

/** A data folder whose store `big` holds `count` keys, appended straight to `Storage`, 1,000 puts an append. */
const writeStore = async (count: number): Promise<string> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-scale-"))
  const order = shuffled(count)
  // Compaction off: the log stays as the puts left it. `after` (what a compaction would write) only
  // has to be non-empty, as a store emptied is compacted whatever the threshold.
  const storage = layerFile({ dataDir, sync: "none", compaction: { minDeadRecords: Number.POSITIVE_INFINITY } })
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const log = yield* (yield* Storage).open("big")
    const after = { entries: HashMap.make([keyOf(0), { value: valueOf(0), version: 1, expiresAt: undefined }]), sequence: 1 }
    for (let start = 0; start < count; start += 1000) {
      const changes = order.slice(start, start + 1000).map((k, i): Change => {
        const value = valueOf(k)
        return { _tag: "Put", key: keyOf(k), value, json: JSON.stringify(value), version: start + i + 1, expiresAt: undefined }
      })
      yield* log.append(changes, after)
    }
  })).pipe(Effect.provide(storage.pipe(Layer.provide(NodeFileSystem.layer)))))
  return dataDir
}

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "scaleChild.js")

/** One run of `./scaleChild.ts` in a fresh process. */
const inChild = (mode: "kv" | "plain", dataDir: string): { readonly cpu: number; readonly heap: number } =>
  // The figures are its last line (the store's log lines may come before it).
  JSON.parse(
    execFileSync(process.execPath, ["--expose-gc", child, mode, dataDir, keyOf(keyCount >> 1)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    }).trim().split("\n").pop()!
  )

/** CPU microseconds (less of the machine's load in it than wall time) of the process, per page. */
const cpuMicros = () => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/** CPU microseconds per page of `kv.keys`, over `pages` pages from random cursors, half of them under a prefix. */
const pageMicros = (kv: KV["Type"], store: string, count: number, pages: number) =>
  Effect.gen(function*() {
    let seed = 5
    const start = cpuMicros()
    for (let i = 0; i < pages; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648
      const at = Math.floor((seed / 2147483648) * (count - 100))
      const page = i % 2 === 0
        ? yield* kv.keys(store, { after: keyOf(at), limit: 100 })
        : yield* kv.keys(store, { prefix: keyOf(at).slice(0, -2), limit: 100 })
      if (page.keys.length === 0) throw new Error("an empty page")
    }
    return (cpuMicros() - start) / pages
  })

/** CPU microseconds per key of walking `kv.exportStore`. */
const exportMicros = (kv: KV["Type"], store: string) =>
  Effect.gen(function*() {
    const start = cpuMicros()
    const exported = yield* kv.exportStore(store)
    let keys = 0
    for (const _ of exported.entries) keys++
    if (keys !== exported.size) throw new Error("export size")
    return (cpuMicros() - start) / keys
  })

/** Reopen CPU and heap, from the same runs of `./scaleChild.ts`: each side's run is read twice. */
const reopenAndHeap = async (dataDir: string) => {
  const heaps = { kv: [] as Array<number>, plain: [] as Array<number> }
  const side = (mode: "kv" | "plain") => async () => {
    const { cpu, heap } = inChild(mode, dataDir)
    heaps[mode].push(heap)
    return cpu
  }
  await compare("reopen 1M keys, CPU to first answer", { label: "KV.layer", run: side("kv") }, {
    label: "plain replay into a Map",
    run: side("plain")
  }, { unit: "ms" })
  // The heaps of those same runs, paired as the rounds ran them, the warm-up round left out.
  const kv = heaps.kv.slice(1)
  const plain = heaps.plain.slice(1)
  const ratios = kv.map((heap, i) => heap / plain[i]!).sort((a, b) => a - b)
  const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[values.length >> 1]!
  console.log(
    `  ${"heap of the reopened 1M keys".padEnd(44)} KV: ${median(kv).toFixed(0)} MiB   ` +
      `vs a Map of the same flat strings: ${median(plain).toFixed(0)} MiB   ` +
      `ratio ${median(ratios).toFixed(2)}x (${ratios[0]!.toFixed(2)}x–${ratios.at(-1)!.toFixed(2)}x, ${ratios.length} rounds)`
  )
}

/** Pages and exports at 1M keys beside 1k keys, in this process. */
const pagesAndExport = async (dataDir: string) => {
  const small = await writeStore(1000)
  fs.renameSync(path.join(small, "stores", "big"), path.join(dataDir, "stores", "small"))
  fs.rmSync(small, { recursive: true, force: true })
  const runtime = ManagedRuntime.make(KV.layer({ dataDir, callTimeout: Duration.infinity }))
  try {
    const service = await runtime.runPromise(KV)
    await runtime.runPromise(service.size("big"))
    await runtime.runPromise(service.size("small"))
    const firstStart = cpuMicros()
    await runtime.runPromise(service.keys("big", { limit: 100 }))
    report("first page at 1M keys after a reopen (sorts the keys), CPU", (cpuMicros() - firstStart) / 1000, "ms")
    await compare("a page of 100 keys", {
      label: "at 1M keys",
      run: () => runtime.runPromise(pageMicros(service, "big", keyCount, 2000))
    }, { label: "at 1k keys", run: () => runtime.runPromise(pageMicros(service, "small", 1000, 2000)) }, { unit: "µs" })
    await compare("export, per key", { label: "1M keys", run: () => runtime.runPromise(exportMicros(service, "big")) }, {
      label: "1k keys",
      run: () => runtime.runPromise(exportMicros(service, "small"))
    }, { unit: "µs" })
  } finally {
    await runtime.dispose()
  }
}

export const run = async () => {
  heading("storage at scale (1M keys, 100-byte values, written in shuffled order)")
  const dataDir = await writeStore(keyCount)
  try {
    if (!process.argv.includes("--pages-only")) await reopenAndHeap(dataDir)
    if (!process.argv.includes("--reopen-only")) await pagesAndExport(dataDir)
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
