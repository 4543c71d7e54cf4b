/**
 * A retry is safe to decide: over HTTP, a write answered 503 was not applied (retry it), one
 * answered 504 `OutcomeUnknown` may have been (read first), one answered 200 was. Sampled over
 * thousands of writes on a slow disk with short timeouts, where answers come too late all the time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KV } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { slowDisk } from "../storage/fixtures/FaultyFileSystem.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { fire, type Shot, tally } from "./load.js"
import { request, serve } from "./server.js"

describe("outcomes over HTTP", () => {
  it.scopedLive("every write answered 503 is absent, every 200 present, and a 504 is either: it was told so", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      // fsyncs of 0 to 250 ms against calls of 100 ms: batches often outlast their callers.
      const disk = slowDisk(() => Math.random() * 250)
      const base = yield* serve({}, KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer)), { callTimeout: "100 millis" }))
      const stores = ["a", "b", "c"]
      // Each write is a create-only put of its own key: a retry of one that was applied would fail with 412.
      const writes: Array<Shot> = Array.from({ length: 3000 }, (_, i) => ({
        method: "PUT",
        path: `/stores/${stores[i % stores.length]}/keys/k${i}`,
        body: String(i)
      }))
      const answers = yield* fire(base, writes, 256)
      const counts = tally(answers)
      expect(Object.keys(counts).filter((answer) => !/^(200|503 CallTimeout|504 OutcomeUnknown)$/.test(answer)), JSON.stringify(counts))
        .toEqual([])
      expect(counts["200"], JSON.stringify(counts)).toBeGreaterThan(0)
      expect(counts["503 CallTimeout"], JSON.stringify(counts)).toBeGreaterThan(0)
      expect(counts["504 OutcomeUnknown"], JSON.stringify(counts)).toBeGreaterThan(0)

      // Once every batch in flight is done (a write behind them is answered), read every key.
      disk.setSyncDelay(0)
      for (const store of stores) {
        while ((yield* request(base, "PUT", `/stores/${store}/keys/fence`, { body: 0 })).status !== 200) {
          yield* Effect.sleep("20 millis")
        }
      }
      const reads = yield* fire(base, writes.map((write) => ({ method: "GET", path: write.path })), 64)
      const outcomes: Record<string, number> = {}
      answers.forEach((answer, i) => {
        const read = reads[i]!.status
        if (answer.status === 200) expect({ write: writes[i]!.path, read }).toEqual({ write: writes[i]!.path, read: 200 })
        if (answer.status === 503) expect({ write: writes[i]!.path, read }).toEqual({ write: writes[i]!.path, read: 404 })
        const key = `${answer.status} then ${read}`
        outcomes[key] = (outcomes[key] ?? 0) + 1
      })
      // The writes answered 504 were mostly applied (their batch finished late), but not all need be.
      expect(outcomes["504 then 200"] ?? 0, JSON.stringify(outcomes)).toBeGreaterThan(0)
    }))
})
