/**
 * What observing `KV` costs, each figure beside its baseline in interleaved rounds (`./rounds.ts`):
 *
 * - reads and writes with metrics on (the default) beside `metrics: false, tracing: false`;
 * - the same with tracing on but no tracer of one's own (Effect's built-in one), metrics off:
 *   what checking for a recording tracer costs;
 * - reads and writes under an OTLP tracer exporting every span (to a collector on 127.0.0.1 that
 *   discards them) beside no tracer.
 *
 * Rates are per second of this process's CPU time (`process.cpuUsage`), not of the clock: the
 * machine is shared, and time given to other processes would otherwise count against whichever
 * side ran then. Everything measured runs in this process, the collector too.
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Duration, Effect, Layer, ManagedRuntime } from "effect"
import * as Http from "node:http"
import { KV, type KVOptions } from "../src/kv/KV.js"
import { heading } from "./report.js"
import { compare, type Measure } from "./rounds.js"

const keyCount = 10_000
const keys = Array.from({ length: keyCount }, (_, i) => `key-${i}`)
const value = "v".repeat(100)
const millis = 500
const rounds = 9

/** Steps per CPU-second of `step` looped by `callers` fibers for about `millis` ms of the clock. */
const cpuRate = <E, R>(callers: number, step: (i: number) => Effect.Effect<unknown, E, R>) =>
  Effect.suspend(() => {
    let count = 0
    const cpu = process.cpuUsage()
    const deadline = performance.now() + millis
    const caller = (offset: number) =>
      Effect.gen(function*() {
        let i = offset
        while (performance.now() < deadline) {
          for (let j = 0; j < 100; j++) yield* step(i++ % keyCount)
          count += 100
        }
      })
    return Effect.all(Array.from({ length: callers }, (_, c) => caller(c * 97)), { concurrency: "unbounded", discard: true })
      .pipe(Effect.map(() => {
        const used = process.cpuUsage(cpu)
        return count / ((used.user + used.system) / 1e6)
      }))
  })

/** A `KV` in memory with `options`, filled, and its reads and writes as measures. */
const side = async (label: string, options: KVOptions, tracer: Layer.Layer<never> = Layer.empty) => {
  const runtime = ManagedRuntime.make(Layer.merge(KV.layerMemory({ callTimeout: Duration.seconds(30), ...options }), tracer))
  const kv = await runtime.runPromise(KV)
  await runtime.runPromise(Effect.forEach(keys, (key) => kv.put("bench", key, value), { concurrency: 100, discard: true }))
  const measure = (callers: number, step: (i: number) => Effect.Effect<unknown, unknown>): Measure => ({
    label,
    run: () => runtime.runPromise(cpuRate(callers, step))
  })
  return {
    reads: measure(1, (i) => kv.get("bench", keys[i]!)),
    writes: measure(100, (i) => kv.put("bench", keys[i]!, value)),
    close: () => runtime.dispose()
  }
}

/** A collector on 127.0.0.1 that takes every export and discards it; its traces URL. */
const collector = async () => {
  let exports = 0
  const server = Http.createServer((request, response) => {
    request.resume()
    request.on("end", () => {
      exports++
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}/v1/traces`,
    exports: () => exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export const run = async () => {
  heading("Observing KV in memory: metrics and tracing beside none (rates per CPU-second, 10,000 keys, 100-byte values)")
  const unit = "ops/cpu-s"
  const off = await side("off", { metrics: false, tracing: false })
  const metrics = await side("metrics on", {})
  await compare("reads, 1 caller: metrics on (default)", metrics.reads, off.reads, { unit, rounds })
  await compare("writes, 100 callers: metrics on (default)", metrics.writes, off.writes, { unit, rounds })
  await metrics.close()

  const tracingChecked = await side("tracing on, no tracer", { metrics: false })
  await compare("reads, 1 caller: tracing on, no tracer", tracingChecked.reads, off.reads, { unit, rounds })
  await compare("writes, 100 callers: tracing on, no tracer", tracingChecked.writes, off.writes, { unit, rounds })
  await tracingChecked.close()

  const sink = await collector()
  const otlp = OtlpTracer.layer({ url: sink.url, resource: { serviceName: "bench" }, exportInterval: "1 second" }).pipe(
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(NodeHttpClient.layer)
  )
  const none = await side("no tracer", { metrics: false })
  const exporting = await side("OTLP exporting", { metrics: false }, otlp)
  await compare("reads, 1 caller: every read a span, exported", exporting.reads, none.reads, { unit, rounds })
  await compare("writes, 100 callers: every write's spans, exported", exporting.writes, none.writes, { unit, rounds })
  await exporting.close()
  await none.close()
  console.log(`  (the collector took ${sink.exports()} exports)`)
  await sink.close()
  await off.close()
}
