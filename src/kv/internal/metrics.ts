/**
 * The metrics of `KV`, defined once; `../Metrics.ts` exports them with their documentation, and
 * `observe.ts` updates them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { globalValue } from "effect/GlobalValue"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import type * as Registry from "../Registry.js"

export const operationsKey = MetricKey.counter("effect_kv_operations_total", {
  description: "KV operations by store, kind (the KV method) and outcome (ok, or the error's tag)",
  incremental: true
})
export const operations = Metric.fromMetricKey(operationsKey)

/** 50 µs to about 6.5 s, doubling: an in-memory write to a slow fsync. */
export const latencyBoundaries = MetricBoundaries.exponential({ start: 0.00005, factor: 2, count: 18 })

export const callDurationKey = MetricKey.histogram(
  "effect_kv_call_duration_seconds",
  latencyBoundaries,
  "time from a write's call to its store until its answer, by store and kind"
)
export const callDuration = Metric.fromMetricKey(callDurationKey)

/**
 * The hooks that hold one series of a metric, the very ones the metric updates, found once, so
 * that an update on the hot path is a plain call.
 */
export const operationsHook = (labels: ReadonlyArray<MetricLabel.MetricLabel>): MetricHook.MetricHook.Counter<number> =>
  Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(operationsKey, labels))

export const callDurationHook = (labels: ReadonlyArray<MetricLabel.MetricLabel>): MetricHook.MetricHook.Histogram =>
  Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(callDurationKey, labels))

export const openStores = Metric.gauge("effect_kv_open_stores", {
  description: "stores running now (opened on first use, closed when idle)"
})

export const mailboxDepth = Metric.gauge("effect_kv_mailbox_depth", {
  description: "writes waiting in a store's mailbox, by store"
})

/** What one `KV` reports of its current state when sampled. */
export interface Reading {
  readonly openStores: number
  readonly mailboxes: ReadonlyArray<readonly [store: string, depth: number]>
}

/** The `KV`s of this process that report their state, each as it reports it now. */
const samplers = globalValue(Symbol.for("effect-kv/Metrics/samplers"), () => new Set<Effect.Effect<Reading>>())

/** Stores whose mailbox gauge was set: those gone since are set back to 0. */
const mailboxesSeen = globalValue(Symbol.for("effect-kv/Metrics/mailboxesSeen"), () => new Set<string>())

/** What the stores of `registry` report: how many run, and each one's mailbox. */
export const readingOf = (registry: Registry.Registry): Effect.Effect<Reading> =>
  Effect.map(registry.running, (names) => {
    const mailboxes: Array<readonly [string, number]> = []
    for (const name of names) {
      const store = registry.unsafeFind(name)
      if (store !== undefined) mailboxes.push([name, store.server.mailboxSize()])
    }
    return { openStores: names.length, mailboxes }
  })

/** Samples `sampler` with the others while the scope is open. */
export const register = (sampler: Effect.Effect<Reading>) =>
  Effect.acquireRelease(Effect.sync(() => samplers.add(sampler)), () => Effect.sync(() => samplers.delete(sampler)))

const storeLabel = (store: string) => [MetricLabel.make("store", store)]

/** Sets the gauges of current state from every `KV` of the process. */
export const sample: Effect.Effect<void> = Effect.suspend(() =>
  Effect.flatMap(Effect.all(Array.from(samplers)), (readings) =>
    Effect.sync(() => {
      let open = 0
      const depths = new Map<string, number>()
      for (const reading of readings) {
        open += reading.openStores
        for (const [store, depth] of reading.mailboxes) depths.set(store, (depths.get(store) ?? 0) + depth)
      }
      openStores.unsafeUpdate(open, [])
      for (const store of mailboxesSeen) if (!depths.has(store)) mailboxDepth.unsafeUpdate(0, storeLabel(store))
      for (const [store, depth] of depths) {
        mailboxesSeen.add(store)
        mailboxDepth.unsafeUpdate(depth, storeLabel(store))
      }
    })
  )
)
