/**
 * `GET /metrics` through a real server: the token as on other routes unless the metrics are
 * public, and a body that a parser of Prometheus's text format reads, checked against the
 * format's rules.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import parse from "parse-prometheus-text-format"
import * as Prometheus from "../../src/http/Prometheus.js"
import { request, serve } from "./server.js"
import * as Sse from "./sse.js"

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * A histogram's series as the text has them: buckets (cumulative, ending with `+Inf`) and count,
 * by their labels other than `le`. (The parser keeps neither for labelled histograms.)
 */
const histogramSeries = (text: string, name: string) => {
  const series = new Map<string, { buckets: Array<readonly [string, number]>; count?: number }>()
  for (const line of text.split("\n")) {
    const match = new RegExp(`^${name}_(bucket|count)(?:\\{(.*)\\})? (\\S+)$`).exec(line)
    if (match === null) continue
    const le = /(?:^|,)le="([^"]*)"/.exec(match[2] ?? "")?.[1]
    const id = (match[2] ?? "").replace(/(?:^|,)le="[^"]*"/, "")
    const entry = series.get(id) ?? { buckets: [] }
    series.set(id, entry)
    if (match[1] === "bucket") entry.buckets.push([le!, Number(match[3])])
    else entry.count = Number(match[3])
  }
  return series
}

/** The families of `text`, after checking what the parser lets through. */
const parseStrictly = (text: string) => {
  expect(text.endsWith("\n")).toBe(true)
  const families = parse(text)
  const names = new Set<string>()
  for (const family of families) {
    expect(family.name).toMatch(metricName)
    expect(names.has(family.name), family.name).toBe(false) // one family per name
    names.add(family.name)
    expect(family.type).not.toBe("UNTYPED")
    if (family.type === "HISTOGRAM") {
      const series = histogramSeries(text, family.name)
      expect(series.size).toBeGreaterThan(0)
      for (const { buckets, count } of series.values()) {
        expect(buckets.at(-1)?.[0]).toBe("+Inf")
        expect(buckets.at(-1)?.[1]).toBe(count)
        const counts = buckets.map(([, n]) => n)
        expect(counts).toEqual([...counts].sort((a, b) => a - b)) // cumulative
      }
      continue
    }
    const series = new Set<string>()
    for (const sample of family.metrics) {
      for (const label of Object.keys(sample.labels ?? {})) expect(label).toMatch(labelName)
      const id = JSON.stringify(sample.labels ?? {})
      expect(series.has(id)).toBe(false) // one sample per set of labels
      series.add(id)
      if (family.type === "SUMMARY") expect(Number(sample.count)).toBeGreaterThanOrEqual(0)
      else expect(Number.isNaN(Number(sample.value))).toBe(false)
    }
  }
  return families
}

describe("GET /metrics", () => {
  it.scoped("answers Prometheus's text format, with the operations done through the API", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      expect((yield* request(base, "PUT", "/stores/scraped/keys/a", { body: { n: 1 } })).status).toBe(200)
      expect((yield* request(base, "GET", "/stores/scraped/keys/a")).status).toBe(200)
      expect((yield* request(base, "PUT", "/stores/scraped/keys/a", { body: 2, headers: { "if-match": "\"999\"" } })).status).toBe(412)
      const reply = yield* request(base, "GET", "/metrics")
      expect(reply.status).toBe(200)
      expect(reply.headers.get("content-type")).toBe(Prometheus.contentType)
      const families = parseStrictly(reply.text)
      const operations = families.find((family) => family.name === "effect_kv_operations_total")!
      expect(operations.type).toBe("COUNTER")
      const of = (kind: string, outcome: string) =>
        operations.metrics.find((sample) =>
          sample.labels?.["store"] === "scraped" && sample.labels["kind"] === kind && sample.labels["outcome"] === outcome
        )?.value
      expect(of("put", "ok")).toBe("1")
      expect(of("getEntry", "ok")).toBe("1")
      expect(of("put", "VersionMismatch")).toBe("1")
      const calls = families.find((family) => family.name === "effect_kv_call_duration_seconds")!
      expect(calls.type).toBe("HISTOGRAM")
      const open = families.find((family) => family.name === "effect_kv_open_stores")!
      expect(open.type).toBe("GAUGE")
      expect(Number(open.metrics[0]!.value)).toBeGreaterThanOrEqual(1)
      const mailbox = families.find((family) => family.name === "effect_kv_mailbox_depth")!
      expect(mailbox.metrics.find((sample) => sample.labels?.["store"] === "scraped")?.value).toBe("0")
    }))

  it.scopedLive("shows each store's open watches and the keys that expired", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const scrape = Effect.map(request(base, "GET", "/metrics"), (reply) => parseStrictly(reply.text))
      const watchers = Effect.map(scrape, (families) =>
        families.find((family) => family.name === "effect_kv_watchers")?.metrics
          .find((sample) => sample.labels?.["store"] === "scraped-watched")?.value)
      const expired = Effect.map(scrape, (families) => {
        const family = families.find((family) => family.name === "effect_kv_expired_keys")
        return family === undefined ? 0 : Number(family.metrics[0]!.value)
      })
      const before = yield* expired
      const stream = yield* Sse.open(`${base}/stores/scraped-watched/watch`)
      expect(stream.status).toBe(200)
      expect(yield* watchers).toBe("1")
      expect((yield* request(base, "PUT", "/stores/scraped-watched/keys/a?ttl=1", { body: 1 })).status).toBe(200)
      // The store expires the key a second later: the watcher sees it, and it is counted (just after).
      yield* stream.until((blocks) => blocks.some((block) => block.event === "expire"))
      while ((yield* expired) === before) yield* Effect.sleep("10 millis")
      expect((yield* expired) - before).toBe(1)
      expect((yield* scrape).find((family) => family.name === "effect_kv_expired_keys")!.type).toBe("COUNTER")
      yield* stream.close
      while ((yield* watchers) !== "0") yield* Effect.sleep("10 millis")
    }))

  it.scoped("needs the token like any other route", () =>
    Effect.gen(function*() {
      const base = yield* serve({ token: "s3cret" })
      const refused = yield* request(base, "GET", "/metrics")
      expect(refused.status).toBe(401)
      expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/)
      expect((yield* request(base, "GET", "/metrics", { headers: { authorization: "Bearer wrong" } })).status).toBe(401)
      expect((yield* request(base, "GET", "/metrics", { headers: { authorization: "Bearer s3cret" } })).status).toBe(200)
    }))

  it.scoped("with metricsPublic needs no token, while the other routes still do", () =>
    Effect.gen(function*() {
      const base = yield* serve({ token: "s3cret", metricsPublic: true })
      expect((yield* request(base, "GET", "/metrics")).status).toBe(200)
      expect((yield* request(base, "GET", "/stores")).status).toBe(401)
    }))
})

describe("Prometheus.render", () => {
  it.effect("escapes label values and help, cleans names, and writes every kind of metric", () =>
    Effect.gen(function*() {
      const tag = `t${Math.random().toString(36).slice(2)}`
      const requests = Metric.counter(`app.requests-${tag}`, { description: "line one\nback\\slash" })
      yield* Metric.increment(Metric.tagged(Metric.tagged(requests, "path", "a \"quoted\"\nvalue\\"), "9bad-label", "x"))
      yield* Metric.set(Metric.gauge(`app_gauge_${tag}`), 2.5)
      yield* Metric.update(Metric.histogram(`app_latency_${tag}`, MetricBoundaries.linear({ start: 0, width: 1, count: 3 })), 0.3)
      yield* Metric.update(Metric.summary({ name: `app_summary_${tag}`, maxAge: "1 minute", maxSize: 10, error: 0.01, quantiles: [0.5, 0.99] }), 3)
      yield* Metric.update(Metric.frequency(`app_words_${tag}`), "hello")
      const text = Prometheus.render(yield* Metric.snapshot)
      const families = parseStrictly(text)
      const counter = families.find((family) => family.name === `app_requests_${tag}`)!
      expect(counter.help).toBe("line one\nback\\slash")
      expect(counter.metrics[0]!.labels).toEqual({ path: "a \"quoted\"\nvalue\\", _9bad_label: "x" })
      expect(families.find((family) => family.name === `app_gauge_${tag}`)!.metrics[0]!.value).toBe("2.5")
      const summary = families.find((family) => family.name === `app_summary_${tag}`)!
      expect(summary.type).toBe("SUMMARY")
      expect(Object.keys(summary.metrics[0]!.quantiles ?? {})).toEqual(["0.5", "0.99"])
      expect(families.find((family) => family.name === `app_words_${tag}`)!.metrics[0]).toMatchObject({ labels: { key: "hello" }, value: "1" })
    }))
})
