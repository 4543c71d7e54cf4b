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
import type * as Feed from "../Feed.js"
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

export const watchers = Metric.gauge("effect_kv_watchers", {
  description: "watches open on a store (KV.watch, SSE), by store"
})

/** What one `KV` reports of its current state when sampled. */
export interface Reading {
  readonly openStores: number
  readonly mailboxes: ReadonlyArray<readonly [store: string, depth: number]>
  readonly watchers: ReadonlyArray<readonly [store: string, watchers: number]>
}

/** The `KV`s of this process that report their state, each as it reports it now. */
const samplers = globalValue(Symbol.for("effect-kv/Metrics/samplers"), () => new Set<Effect.Effect<Reading>>())

/** Stores whose mailbox gauge was set: those gone since are set back to 0. */
const mailboxesSeen = globalValue(Symbol.for("effect-kv/Metrics/mailboxesSeen"), () => new Set<string>())

/** Stores whose watchers gauge was set: those no longer watched are set back to 0. */
const watchedSeen = globalValue(Symbol.for("effect-kv/Metrics/watchedSeen"), () => new Set<string>())

/** What the stores of `registry` and their `feeds` report: how many run, each one's mailbox and watchers. */
export const readingOf = (registry: Registry.Registry, feeds: Feed.Feeds): Effect.Effect<Reading> =>
  Effect.map(registry.running, (names) => {
    const mailboxes: Array<readonly [string, number]> = []
    for (const name of names) {
      const store = registry.unsafeFind(name)
      if (store !== undefined) mailboxes.push([name, store.server.mailboxSize()])
    }
    return { openStores: names.length, mailboxes, watchers: feeds.watchers() }
  })

/** Samples `sampler` with the others while the scope is open. */
export const register = (sampler: Effect.Effect<Reading>) =>
  Effect.acquireRelease(Effect.sync(() => samplers.add(sampler)), () => Effect.sync(() => samplers.delete(sampler)))

const storeLabel = (store: string) => [MetricLabel.make("store", store)]

/** Sets `gauge` of each store to its sum over the readings, and back to 0 for those `seen` before and not now. */
const setByStore = (
  gauge: Metric.Metric.Gauge<number>,
  seen: Set<string>,
  readings: ReadonlyArray<ReadonlyArray<readonly [string, number]>>
) => {
  const sums = new Map<string, number>()
  for (const reading of readings) for (const [store, n] of reading) sums.set(store, (sums.get(store) ?? 0) + n)
  for (const store of seen) if (!sums.has(store)) gauge.unsafeUpdate(0, storeLabel(store))
  for (const [store, n] of sums) {
    seen.add(store)
    gauge.unsafeUpdate(n, storeLabel(store))
  }
}

/** Sets the gauges of current state from every `KV` of the process. */
export const sample: Effect.Effect<void> = Effect.suspend(() =>
  Effect.flatMap(Effect.all(Array.from(samplers)), (readings) =>
    Effect.sync(() => {
      let open = 0
      for (const reading of readings) open += reading.openStores
      openStores.unsafeUpdate(open, [])
      setByStore(mailboxDepth, mailboxesSeen, readings.map((reading) => reading.mailboxes))
      setByStore(watchers, watchedSeen, readings.map((reading) => reading.watchers))
    })
  )
)
