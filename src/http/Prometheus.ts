/**
 * Effect's metrics in Prometheus's text exposition format (version 0.0.4), as `GET /metrics`
 * serves them: what Prometheus scrapes as it is.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics } from "effect-kv"
 * import { Prometheus } from "effect-kv/http"
 *
 * const text = Effect.map(Metrics.snapshot, Prometheus.render)
 * ```
 *
 * Each metric is a family with a `# HELP` (its description) and a `# TYPE` line. Counters and
 * gauges are one sample per set of labels; histograms are cumulative `_bucket` samples with `le`
 * (the last `+Inf`), `_sum` and `_count`; summaries are `quantile` samples, `_sum` and `_count`;
 * Effect's frequencies are counters with the word in a `key` label. Names and label names that
 * Prometheus would refuse have each such character replaced by `_`; label values and help are
 * escaped as the format says.
 *
 * @since 0.2.0
 */
import * as MetricState from "effect/MetricState"
import type * as MetricPair from "effect/MetricPair"
import * as Option from "effect/Option"

/**
 * The `Content-Type` of the format.
 *
 * @since 0.2.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const invalidName = /[^a-zA-Z0-9_:]/g
const invalidLabelName = /[^a-zA-Z0-9_]/g

const metricName = (name: string) => {
  const cleaned = name.replace(invalidName, "_")
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned
}
const labelName = (name: string) => {
  const cleaned = name.replace(invalidLabelName, "_")
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned
}
const labelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const helpText = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const number = (value: number | bigint): string =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
    ? "NaN"
    : value === Infinity
    ? "+Inf"
    : value === -Infinity
    ? "-Inf"
    : String(value)

type Labels = ReadonlyArray<readonly [string, string]>

const sample = (name: string, labels: Labels, value: number | bigint) =>
  labels.length === 0
    ? `${name} ${number(value)}\n`
    : `${name}{${labels.map(([key, text]) => `${key}="${labelValue(text)}"`).join(",")}} ${number(value)}\n`

/** A family's type, and the sample lines of one series of it. */
const series = (name: string, labels: Labels, state: MetricState.MetricState.Untyped): readonly [string, string] | undefined => {
  if (MetricState.isCounterState(state)) return ["counter", sample(name, labels, state.count)]
  if (MetricState.isGaugeState(state)) return ["gauge", sample(name, labels, state.value)]
  if (MetricState.isHistogramState(state)) {
    let lines = ""
    for (const [boundary, count] of state.buckets) lines += sample(`${name}_bucket`, [...labels, ["le", number(boundary)]], count)
    if (state.buckets.every(([boundary]) => boundary !== Infinity)) {
      lines += sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count)
    }
    return ["histogram", lines + sample(`${name}_sum`, labels, state.sum) + sample(`${name}_count`, labels, state.count)]
  }
  if (MetricState.isSummaryState(state)) {
    let lines = ""
    for (const [quantile, value] of state.quantiles) {
      lines += sample(name, [...labels, ["quantile", number(quantile)]], Option.getOrElse(value, () => NaN))
    }
    return ["summary", lines + sample(`${name}_sum`, labels, state.sum) + sample(`${name}_count`, labels, state.count)]
  }
  if (MetricState.isFrequencyState(state)) {
    let lines = ""
    for (const [key, count] of state.occurrences) lines += sample(name, [...labels, ["key", key]], count)
    return ["counter", lines]
  }
  return undefined
}

/**
 * The metrics of `snapshot` (`Metrics.snapshot`, or Effect's `Metric.snapshot`) as the text
 * Prometheus scrapes, families sorted by name. A name that two types share keeps the first type's
 * series; the others are left out, as the format allows one type per name.
 *
 * @since 0.2.0
 * @category utils
 */
export const render = (snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { type: string; help: string; lines: Array<string> }>()
  for (const pair of snapshot) {
    const name = metricName(pair.metricKey.name)
    const labels: Labels = pair.metricKey.tags.map((tag) => [labelName(tag.key), tag.value] as const)
    const rendered = series(name, labels, pair.metricState)
    if (rendered === undefined) continue
    const [type, lines] = rendered
    const family = families.get(name)
    if (family === undefined) {
      families.set(name, { type, help: Option.getOrElse(pair.metricKey.description, () => name), lines: [lines] })
    } else if (family.type === type) {
      family.lines.push(lines)
    }
  }
  let text = ""
  for (const name of Array.from(families.keys()).sort()) {
    const family = families.get(name)!
    text += `# HELP ${name} ${helpText(family.help)}\n# TYPE ${name} ${family.type}\n${family.lines.join("")}`
  }
  return text
}
