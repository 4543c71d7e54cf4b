/**
 * The OpenAPI document passes a standard linter (Redocly's `recommended-strict` rules), and says
 * what a client needs: a summary per operation, the `ETag` header, the package's version, servers.
 */
import * as OpenApi from "@effect/platform/OpenApi"
import { createConfig, lintFromString } from "@redocly/openapi-core"
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import { KvApi, version } from "../../src/http/Api.js"

interface Operation {
  readonly summary?: string
  readonly responses: Record<string, { readonly headers?: Record<string, unknown> }>
}

const document = OpenApi.fromApi(KvApi) as unknown as {
  readonly info: { readonly version: string }
  readonly servers?: ReadonlyArray<{ readonly url: string }>
  readonly paths: Record<string, Record<string, Operation>>
}

const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation }))
)

describe("the OpenAPI document", () => {
  it("passes Redocly's recommended-strict rules", async () => {
    const config = await createConfig({ extends: ["recommended-strict"] })
    const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: "openapi.json", config })
    expect(problems.map((problem) => `${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`)).toEqual([])
  })

  it("has a summary for every operation", () => {
    expect(operations.length).toBeGreaterThan(0)
    for (const { name, operation } of operations) expect({ name, summary: operation.summary ?? "" }).toMatchObject({ name, summary: /\w/ })
  })

  it("declares the ETag of a read, and its 304", () => {
    const read = document.paths["/stores/{store}/keys/{key}"]!["get"]!
    expect(Object.keys(read.responses["200"]!.headers ?? {})).toContain("ETag")
    expect(Object.keys(read.responses["304"]!.headers ?? {})).toContain("ETag")
  })

  it("gives the package's version and a server", () => {
    const pkg = JSON.parse(Fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    expect(version).toBe(pkg.version)
    expect(document.info.version).toBe(pkg.version)
    expect(document.servers?.length).toBeGreaterThan(0)
  })
})
