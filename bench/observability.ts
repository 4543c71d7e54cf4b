/**
 * What observing `KV` costs, each figure beside its baseline in interleaved rounds (`./rounds.ts`):
 *
 * - reads and writes with metrics on (the default) beside `metrics: false, tracing: false`, in
 *   memory, and durable writes (`sync: "always"`, where the writers' metrics count too);
 * - the same with tracing on but no tracer of one's own (Effect's built-in one), metrics off:
 *   what checking for a recording tracer costs;
 * - reads and writes under an OTLP tracer exporting every span (to a collector on 127.0.0.1 that
 *   discards them) beside no tracer.
 *
 * Rates are per second of this process's CPU time (`process.cpuUsage`), not of the clock: the
 * machine is shared, and time given to other processes would otherwise count against whichever
 * side ran then. Everything measured runs in this process, the collector too. Each comparison
 * runs on two fresh `KV`s, beside one of off against off: how far noise alone moves a ratio.
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Duration, Effect, Layer, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as Http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { KV, type KVOptions } from "../src/kv/KV.js"
import { heading } from "./report.js"
import { compare, type Measure } from "./rounds.js"

const keyCount = 10_000
const keys = Array.from({ length: keyCount }, (_, i) => `key-${i}`)
const value = "v".repeat(100)
// Many short rounds: the median of their ratios settles where a few long ones would not.
const timing = {
  reads: { rounds: 21, callers: 1, millis: 300 },
  writes: { rounds: 15, callers: 100, millis: 500 }
} as const

/** Steps per CPU-second of `step` looped by `callers` fibers for about `millis` ms of the clock. */
const cpuRate = <E, R>(callers: number, millis: number, step: (i: number) => Effect.Effect<unknown, E, R>) =>
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

/** A `KV` with `options`, in memory or in `dataDir`, filled, and its reads and writes as measures. */
const side = async (label: string, options: KVOptions, tracer: Layer.Layer<never> = Layer.empty, dataDir?: string) => {
  const kvOptions = { callTimeout: Duration.seconds(30), ...options }
  const layer = dataDir === undefined ? KV.layerMemory(kvOptions) : KV.layer({ ...kvOptions, dataDir, sync: "always" })
  const runtime = ManagedRuntime.make(Layer.merge(layer, tracer))
  const kv = await runtime.runPromise(KV)
  await runtime.runPromise(Effect.forEach(keys, (key) => kv.put("bench", key, value), { concurrency: 100, discard: true }))
  const measure = (
    { callers, millis }: (typeof timing)[keyof typeof timing],
    step: (i: number) => Effect.Effect<unknown, unknown>
  ): Measure => ({ label, run: () => runtime.runPromise(cpuRate(callers, millis, step)) })
  return {
    reads: measure(timing.reads, (i) => kv.get("bench", keys[i]!)),
    writes: measure(timing.writes, (i) => kv.put("bench", keys[i]!, value)),
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

/** Compares `figure` with `baseline`, each a fresh `KV`: neither side has run longer than the other. */
const pair = async (
  label: string,
  which: "reads" | "writes",
  figure: () => ReturnType<typeof side>,
  baseline: () => ReturnType<typeof side>
) => {
  const a = await figure()
  const b = await baseline()
  await compare(label, a[which], b[which], { unit: "ops/cpu-s", rounds: timing[which].rounds })
  await a.close()
  await b.close()
}

export const run = async () => {
  heading("Observing KV: metrics and tracing beside none (rates per CPU-second, 10,000 keys, 100-byte values)")
  const off = () => side("off", { metrics: false, tracing: false })
  await pair("reads, 1 caller: off beside off (the noise)", "reads", off, off)
  await pair("reads, 1 caller: metrics on (default)", "reads", () => side("metrics on", {}), off)
  await pair("writes, 100 callers: off beside off (the noise)", "writes", off, off)
  await pair("writes, 100 callers: metrics on (default)", "writes", () => side("metrics on", {}), off)
  const durable = async (label: string, options: KVOptions) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-"))
    const measures = await side(label, options, Layer.empty, dataDir)
    return { ...measures, close: () => measures.close().then(() => fs.rmSync(dataDir, { recursive: true, force: true })) }
  }
  await pair(
    `durable writes, sync "always", 100 callers: metrics on`,
    "writes",
    () => durable("metrics on", {}),
    () => durable("off", { metrics: false, tracing: false })
  )
  await pair("reads, 1 caller: tracing on, no tracer", "reads", () => side("tracing on, no tracer", { metrics: false }), off)
  await pair("writes, 100 callers: tracing on, no tracer", "writes", () => side("tracing on, no tracer", { metrics: false }), off)

  const sink = await collector()
  const otlp = OtlpTracer.layer({ url: sink.url, resource: { serviceName: "bench" }, exportInterval: "1 second" }).pipe(
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(NodeHttpClient.layer)
  )
  const none = () => side("no tracer", { metrics: false })
  const exporting = () => side("OTLP exporting", { metrics: false }, otlp)
  await pair("reads, 1 caller: every read a span, exported", "reads", exporting, none)
  await pair("writes, 100 callers: every write's spans, exported", "writes", exporting, none)
  console.log(`  (the collector took ${sink.exports()} exports)`)
  await sink.close()
}
