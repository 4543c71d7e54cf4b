/**
 * What `KV` measures, as Effect `Metric`s in Effect's registry: read them with `Metric.value`, or
 * take them all with {@link snapshot} (what the HTTP server's `GET /metrics` shows).
 *
 * | metric | type | labels | what |
 * | --- | --- | --- | --- |
 * | `effect_kv_operations_total` | counter | `store`, `kind`, `outcome` | operations: `kind` is the `KV` method (`get`, `put`, ...), `outcome` is `ok` or the error's tag (`VersionMismatch`, ...) |
 * | `effect_kv_call_duration_seconds` | histogram | `store`, `kind` | a write's time from its call to its answer (`put`, `delete`, `expire`, `persist`, `atomic`, `clear`) |
 * | `effect_kv_open_stores` | gauge | | stores running now |
 * | `effect_kv_mailbox_depth` | gauge | `store` | writes waiting in a store's mailbox |
 * | `effect_kv_watchers` | gauge | `store` | watches open on a store |
 * | `effect_kv_store_restarts` | counter | | stores restarted after a crash |
 * | `effect_kv_expired_keys` | counter | | keys removed because their expiry passed |
 * | `effect_kv_writer_batch_records` | histogram | `writer` | records a storage writer wrote in one batch |
 * | `effect_kv_fsync_duration_seconds` | histogram | `writer` | one fsync of a log's appends by a storage writer |
 *
 * Counters and histograms are updated as operations run; the gauges, which describe the present,
 * are set by {@link sample} (and so by {@link snapshot}). Turn them off with
 * `KV.layer({ metrics: false })` (the writers' too: the option reaches the file storage), all but
 * the restarts and expiries, which are counted where they happen, once per restart or batch.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricPair from "effect/MetricPair"
import type * as MetricState from "effect/MetricState"
import * as StorageMetrics from "../storage/Metrics.js"
import * as Expiry from "./internal/expiry.js"
import * as internal from "./internal/metrics.js"
import * as Stores from "./Stores.js"

/**
 * Operations by `store`, `kind` (the `KV` method) and `outcome` (`ok`, or the failure's tag;
 * `defect` for a defect).
 *
 * @since 0.2.0
 * @category metrics
 */
export const operations: Metric.Metric.Counter<number> = internal.operations

/**
 * Seconds from a write's call to its store until its answer, by `store` and `kind`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const callDuration: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  number,
  MetricState.MetricState.Histogram
> = internal.callDuration

/**
 * Stores running now; set by {@link sample}.
 *
 * @since 0.2.0
 * @category metrics
 */
export const openStores: Metric.Metric.Gauge<number> = internal.openStores

/**
 * Writes waiting in each store's mailbox, by `store`; set by {@link sample}.
 *
 * @since 0.2.0
 * @category metrics
 */
export const mailboxDepth: Metric.Metric.Gauge<number> = internal.mailboxDepth

/**
 * Watches open on each store (`KV.watch`, `KV.subscribe`, the SSE route), by `store`; set by
 * {@link sample}.
 *
 * @since 0.2.0
 * @category metrics
 */
export const watchers: Metric.Metric.Gauge<number> = internal.watchers

/**
 * Keys removed because their expiry passed, in every store: each is an `Expire` change in its
 * store's log, seen by watchers.
 *
 * @since 0.2.0
 * @category metrics
 */
export const expiries: Metric.Metric.Counter<number> = Expiry.expiredKeys

/**
 * Stores restarted by their supervisor after a crash.
 *
 * @since 0.2.0
 * @category metrics
 */
export const storeRestarts: Metric.Metric.Counter<number> = Stores.storeRestarts

/**
 * Records a storage writer wrote in one batch, by `writer`; see `Storage`'s `Metrics`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const writerBatchRecords: typeof StorageMetrics.batchRecords = StorageMetrics.batchRecords

/**
 * Seconds of one fsync of a log by a storage writer, by `writer`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const fsyncDuration: typeof StorageMetrics.fsyncDuration = StorageMetrics.fsyncDuration

/**
 * Sets the gauges that describe the present (open stores, mailbox depths, watchers) from every `KV` of the
 * process that counts metrics.
 *
 * @since 0.2.0
 * @category utils
 */
export const sample: Effect.Effect<void> = internal.sample

/**
 * Every metric of Effect's registry, the gauges sampled first: effect-kv's and the
 * application's own.
 *
 * @since 0.2.0
 * @category utils
 */
export const snapshot: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> = Effect.zipRight(
  sample,
  Metric.snapshot
)
