/** `effect-kv serve`'s observability options, on the built CLI. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Http from "node:http"
import * as Cli from "./cli.js"

describe("effect-kv serve: observability", () => {
  it.scopedLive("--metrics-public (or KV_METRICS_PUBLIC) serves /metrics without the token; without it the token applies", () =>
    Effect.gen(function*() {
      const guarded = yield* Cli.serve(yield* Cli.tempDir, ["--token", "s3cret"])
      expect((yield* Cli.request(`${guarded.url}/metrics`)).status).toBe(401)
      const scraped = yield* Cli.request(`${guarded.url}/metrics`, { headers: { authorization: "Bearer s3cret" } })
      expect(scraped.status).toBe(200)
      expect(scraped.body).toContain("# TYPE effect_kv_open_stores gauge")
      const open = yield* Cli.serve(yield* Cli.tempDir, ["--token", "s3cret", "--metrics-public"])
      expect((yield* Cli.request(`${open.url}/metrics`)).status).toBe(200)
      expect((yield* Cli.request(`${open.url}/stores`)).status).toBe(401)
      const fromEnv = yield* Cli.serve(yield* Cli.tempDir, ["--token", "s3cret"], { env: { KV_METRICS_PUBLIC: "true" } })
      expect((yield* Cli.request(`${fromEnv.url}/metrics`)).status).toBe(200)
    }))
})

/** An OTLP/HTTP collector on 127.0.0.1 that keeps the spans it is sent. */
const collector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly spans: Array<OtlpSpan>; readonly server: Http.Server }>((resume) => {
    const spans: Array<OtlpSpan> = []
    const server = Http.createServer((request, response) => {
      let body = ""
      request.setEncoding("utf8").on("data", (chunk: string) => body += chunk).on("end", () => {
        const data = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<OtlpSpan> }> }> }
        for (const resource of data.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans)
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/v1/traces`, spans, server }))
    })
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

interface OtlpSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
}

/** The names of `span` and its ancestors among `spans`, innermost first. */
const ancestry = (spans: ReadonlyArray<OtlpSpan>, span: OtlpSpan): Array<string> => {
  const names = [span.name]
  for (let parent = spans.find((s) => s.spanId === span.parentSpanId); parent !== undefined; parent = spans.find((s) => s.spanId === parent!.parentSpanId)) {
    names.push(parent.name)
  }
  return names
}

describe("effect-kv serve --otlp-url", () => {
  it.scopedLive("sends the spans of a request to the collector, down to the fsync of its write", () =>
    Effect.gen(function*() {
      const otlp = yield* collector
      const server = yield* Cli.serve(yield* Cli.tempDir, ["--otlp-url", otlp.url])
      const put = yield* Cli.request(`${server.url}/stores/traced/keys/k`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: "{\"n\":1}"
      })
      expect(put.status).toBe(200)
      // Spans still buffered are sent as the server shuts down.
      yield* Cli.stop(server)
      const fsync = otlp.spans.find((span) => span.name === "storage.fsync")
      expect(fsync).toBeDefined()
      expect(ancestry(otlp.spans, fsync!)).toEqual([
        "storage.fsync",
        "storage.writer.batch",
        "storage.append",
        "kv.batch",
        "kv.put",
        "http.server PUT"
      ])
    }))
})
