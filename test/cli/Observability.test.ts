/** `effect-kv serve`'s observability options, on the built CLI. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
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
