/**
 * The metrics of the writers, defined once; `../Metrics.ts` exports them with their
 * documentation. A writer finds its series' hooks once, as it starts.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"

const batchRecordsKey = MetricKey.histogram(
  "effect_kv_writer_batch_records",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 14 }),
  "records a storage writer wrote in one batch (one fsync per file for all of them), by writer"
)
export const batchRecords = Metric.fromMetricKey(batchRecordsKey)

const fsyncDurationKey = MetricKey.histogram(
  "effect_kv_fsync_duration_seconds",
  MetricBoundaries.exponential({ start: 0.00005, factor: 2, count: 18 }),
  "one fsync of a log by a storage writer, by writer"
)
export const fsyncDuration = Metric.fromMetricKey(fsyncDurationKey)

/** One writer's series; `undefined` hooks when metrics are off. */
export interface WriterMetrics {
  readonly batchRecords: MetricHook.MetricHook.Histogram | undefined
  readonly fsyncDuration: MetricHook.MetricHook.Histogram | undefined
}

export const writerMetrics = (writer: string, enabled: boolean): WriterMetrics => {
  if (!enabled) return { batchRecords: undefined, fsyncDuration: undefined }
  const labels = [MetricLabel.make("writer", writer)]
  return {
    batchRecords: Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(batchRecordsKey, labels)),
    fsyncDuration: Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(fsyncDurationKey, labels))
  }
}
