/**
 * What the storage writers measure, as Effect `Metric`s (see also `effect-kv`'s `Metrics`, which
 * lists every metric): turned off with `metrics: false` in `Storage.layerFile`'s options, as
 * `KV.layer({ metrics: false })` passes it on.
 *
 * @since 0.2.0
 */
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import * as internal from "./internal/metrics.js"

/**
 * Records a writer wrote in one batch, by `writer` (`0` to `writers - 1`): how much one fsync per
 * file covered.
 *
 * @since 0.2.0
 * @category metrics
 */
export const batchRecords: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, number, MetricState.MetricState.Histogram> =
  internal.batchRecords

/**
 * Seconds of one fsync of a log's appends, by `writer`: with `sync: "always"` every batch's, with
 * `"interval"` every flush's.
 *
 * @since 0.2.0
 * @category metrics
 */
export const fsyncDuration: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, number, MetricState.MetricState.Histogram> =
  internal.fsyncDuration
