/**
 * The spans of `KV` under a recording tracer: a put's span has the store's batch under it, the
 * append under that and, on disk, the writer's batch and the fsync; a read has its own span.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as MemoryTracer from "../fixtures/MemoryTracer.js"
import { onTempDir } from "../storage/fixtures/TempDir.js"

const traced = <A, E>(memory: MemoryTracer.MemoryTracer, layer: Layer.Layer<KV, unknown>, program: Effect.Effect<A, E, KV>) =>
  program.pipe(Effect.provide(layer), MemoryTracer.withTracer(memory))

describe("KV spans", () => {
  it.effect("a durable put: put → batch → append → the writer's batch → fsync", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      yield* traced(memory, onTempDir((dataDir) => KV.layer({ dataDir })), Effect.flatMap(KV, (kv) => kv.put("traced", "k", 1)))
      const fsync = MemoryTracer.find(memory, "storage.fsync")
      expect(MemoryTracer.path(fsync)).toEqual(["storage.fsync", "storage.writer.batch", "storage.append", "kv.batch", "kv.put"])
      const put = MemoryTracer.find(memory, "kv.put")
      expect(Object.fromEntries(put.attributes)).toMatchObject({ "kv.store": "traced", "kv.key": "k" })
      expect(put.status._tag).toBe("Ended")
      expect(MemoryTracer.find(memory, "storage.append").attributes.get("storage.records")).toBe(1)
      expect(MemoryTracer.find(memory, "kv.batch").attributes.get("otp.server")).toBe("store:traced")
    }))

  it.effect("in memory: put → batch → append; a read and a failed write have spans of their own", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      yield* traced(memory, KV.layerMemory(), Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("traced", "k", 1)
        yield* kv.get("traced", "k")
        yield* Effect.ignore(kv.put("traced", "k", 2, { expectedVersion: 99 }))
      }))
      expect(MemoryTracer.path(MemoryTracer.find(memory, "storage.append"))).toEqual(["storage.append", "kv.batch", "kv.put"])
      const get = MemoryTracer.find(memory, "kv.get")
      expect(MemoryTracer.path(get)).toEqual(["kv.get"])
      const puts = memory.spans.filter((span) => span.name === "kv.put")
      expect(puts.map((span) => span.status._tag === "Ended" && span.status.exit._tag)).toEqual(["Success", "Failure"])
    }))

  it.effect("tracing: false makes no span, even under a recording tracer and inside the caller's span", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      const options: KVOptions = { tracing: false }
      const program = Effect.flatMap(KV, (kv) => Effect.zipRight(kv.put("untraced", "k", 1), kv.get("untraced", "k")))
      yield* traced(memory, onTempDir((dataDir) => KV.layer({ ...options, dataDir })), Effect.withSpan(program, "caller"))
      expect(memory.spans.map((span) => span.name)).toEqual(["caller"])
    }))
})
