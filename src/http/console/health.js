// @ts-check
/**
 * The server's health at a glance, from `GET /metrics` (Prometheus text) every few seconds:
 * operations per second and the mean fsync time over the last interval, the stores open and the
 * watchers now. Read with the token the tab holds, never asking for one: a question on a timer
 * would come back every few seconds; a refused read says so in the panel and tries again later.
 */
import * as api from "./api.js"
import { byId } from "./dom.js"

const every = 2000

const panel = byId("health", HTMLElement)
const ops = byId("health-ops", HTMLElement)
const fsync = byId("health-fsync", HTMLElement)
const stores = byId("health-stores", HTMLElement)
const watchers = byId("health-watchers", HTMLElement)

/**
 * The samples of a scrape, by metric name (with its `_sum`, `_count`, `_bucket` suffix), each
 * with its labels.
 * @typedef {Map<string, Array<{ labels: Record<string, string>, value: number }>>} Samples
 */

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/**
 * Reads Prometheus's text format 0.0.4: comments and `# TYPE` lines are skipped, as the figures
 * shown know their metrics' types.
 * @param {string} text
 * @returns {Samples}
 */
export const parseMetrics = (text) => {
  /** @type {Samples} */
  const samples = new Map()
  for (const line of text.split("\n")) {
    const match = sampleLine.exec(line)
    if (match === null) continue
    const [, name = "", labelText = "", valueText = ""] = match
    /** @type {Record<string, string>} */
    const labels = {}
    for (const [, label = "", value = ""] of labelText.matchAll(labelPair)) labels[label] = value.replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c)
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText)
    const list = samples.get(name) ?? []
    list.push({ labels, value })
    samples.set(name, list)
  }
  return samples
}

/**
 * The sum of a metric's samples over all their labels; `undefined` when the server has none.
 * @param {Samples} samples
 * @param {string} name
 */
const total = (samples, name) => samples.get(name)?.reduce((sum, sample) => sum + sample.value, 0)

/** @param {number} seconds */
const formatSeconds = (seconds) =>
  seconds < 0.001 ? `${(seconds * 1e6).toFixed(0)} µs` : seconds < 1 ? `${(seconds * 1000).toPrecision(2)} ms` : `${seconds.toFixed(2)} s`

/** @type {{ at: number, ops: number | undefined, fsyncSum: number | undefined, fsyncCount: number | undefined } | undefined} */
let previous

/**
 * @param {HTMLElement} cell
 * @param {string} text
 * @param {string} title
 */
const put = (cell, text, title) => {
  cell.textContent = text
  if (cell.parentElement !== null) cell.parentElement.title = title
}

/** @param {Samples} samples */
const render = (samples) => {
  const now = performance.now()
  const current = {
    at: now,
    ops: total(samples, "effect_kv_operations_total"),
    fsyncSum: total(samples, "effect_kv_fsync_duration_seconds_sum"),
    fsyncCount: total(samples, "effect_kv_fsync_duration_seconds_count")
  }
  const seconds = previous === undefined ? 0 : (now - previous.at) / 1000
  const last = previous
  previous = current
  const over = `over the last ${seconds.toFixed(0)} s`
  if (current.ops === undefined) put(ops, "—", "The server reports no operations (its metrics are off).")
  else if (last?.ops === undefined || seconds <= 0 || current.ops < last.ops) put(ops, "…", "Measured from the next reading on.")
  else {
    const rate = (current.ops - last.ops) / seconds
    put(ops, rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en"), `Operations on the stores per second, ${over}`)
  }

  if (current.fsyncCount === undefined || current.fsyncSum === undefined || current.fsyncCount === 0) {
    put(fsync, "—", "No fsync yet: the server syncs nothing to disk (memory storage or --sync none), or has written nothing.")
  } else {
    const count = current.fsyncCount - (last?.fsyncCount ?? 0)
    const sum = current.fsyncSum - (last?.fsyncSum ?? 0)
    put(
      fsync,
      count > 0 ? formatSeconds(sum / count) : formatSeconds(current.fsyncSum / current.fsyncCount),
      count > 0
        ? `Mean time of one fsync, ${over} (${count.toLocaleString("en")} fsyncs)`
        : `No fsync ${over}; the mean of all ${current.fsyncCount.toLocaleString("en")} so far`
    )
  }
  const open = total(samples, "effect_kv_open_stores")
  put(stores, open === undefined ? "—" : open.toLocaleString("en"), "Stores running now: opened on first use, closed when idle")
  const watching = total(samples, "effect_kv_watchers")
  put(
    watchers,
    watching === undefined ? "—" : watching.toLocaleString("en"),
    watching === undefined ? "This server does not report its watchers (no effect_kv_watchers metric)." : "Open watches of stores' changes now"
  )
}

const scrape = async () => {
  // A tab in the background reads nothing: the figures are for a person looking at them.
  if (document.hidden) return
  try {
    render(parseMetrics(await api.readMetrics()))
    panel.dataset["state"] = "ok"
    panel.removeAttribute("title")
  } catch (error) {
    previous = undefined
    for (const cell of [ops, fsync, stores, watchers]) put(cell, "—", "")
    panel.dataset["state"] = "error"
    panel.title = error instanceof api.ApiError && error.status === 401
      ? "The server wants its token for /metrics: the figures show once this tab holds it."
      : `The metrics cannot be read: ${error instanceof Error ? error.message : String(error)}`
  }
}

/** Reads the metrics now, then every few seconds. */
export const watchHealth = () => {
  void scrape()
  setInterval(() => void scrape(), every)
}
