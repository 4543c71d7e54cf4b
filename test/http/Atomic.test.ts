/**
 * `POST /stores/{store}/atomic`: its body, its answers (200, 412 with the failed checks, 409, 400,
 * 413, 415), and that it applies all or nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { KV } from "../../src/kv/KV.js"
import { type Reply, request, serve } from "./server.js"

const expectError = (reply: Reply, status: number, error: string) => {
  expect({ status: reply.status, error: (reply.json as { error?: unknown }).error }).toEqual({ status, error })
  expect((reply.json as { message: string }).message.length).toBeGreaterThan(0)
}

const versionOf = (reply: Reply) => (reply.json as { version: number }).version

describe("HTTP atomic writes", () => {
  it.scopedLive("applies checks and operations as the issue's example shows, at one version", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const a = versionOf(yield* request(base, "PUT", "/stores/s/keys/a", { body: "old" }))
      yield* request(base, "PUT", "/stores/s/keys/c", { body: true })
      const reply = yield* request(base, "POST", "/stores/s/atomic", {
        body: {
          checks: [{ key: "a", version: a }, { key: "b", version: null }],
          ops: [
            { op: "put", key: "a", value: { x: 1 }, ttl: 60 },
            { op: "delete", key: "c" },
            { op: "increment", key: "n", by: 1 },
            { op: "increment", key: "n" }
          ]
        }
      })
      expect(reply.status).toBe(200)
      expect(Object.keys(reply.json as object)).toEqual(["version"])
      const version = versionOf(reply)
      const getA = yield* request(base, "GET", "/stores/s/keys/a")
      expect([getA.json, getA.headers.get("etag"), getA.headers.has("kv-expires-at")]).toEqual([{ x: 1 }, `"${version}"`, true])
      expect((yield* request(base, "GET", "/stores/s/keys/c")).status).toBe(404)
      const getN = yield* request(base, "GET", "/stores/s/keys/n")
      expect([getN.json, getN.headers.get("etag")]).toEqual([2, `"${version}"`])
      // Checks alone: 200 with the store's version, nothing written.
      const checksOnly = yield* request(base, "POST", "/stores/s/atomic", { body: { checks: [{ key: "n", version }], ops: [] } })
      expect([checksOnly.status, versionOf(checksOnly)]).toEqual([200, version])
    }))

  it.scopedLive("412 names every failed check with its expected and actual version; nothing is applied", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const a = versionOf(yield* request(base, "PUT", "/stores/s/keys/a", { body: 1 }))
      const reply = yield* request(base, "POST", "/stores/s/atomic", {
        body: {
          checks: [{ key: "a", version: a + 1 }, { key: "b", version: 3 }, { key: "a", version: null }],
          ops: [{ op: "put", key: "b", value: 2 }]
        }
      })
      expectError(reply, 412, "AtomicCheckFailed")
      expect((reply.json as { failed: unknown }).failed).toEqual([
        { key: "a", expected: a + 1, actual: a },
        { key: "b", expected: 3, actual: null },
        { key: "a", expected: null, actual: a }
      ])
      expect((reply.json as { message: string }).message).toContain("read the keys again")
      expect((yield* request(base, "GET", "/stores/s/keys/b")).status).toBe(404)
    }))

  it.scopedLive("409 for an increment of a value that is not a number, with a message that says which", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      yield* request(base, "PUT", "/stores/s/keys/name", { body: "Ada" })
      const reply = yield* request(base, "POST", "/stores/s/atomic", {
        body: { ops: [{ op: "put", key: "other", value: 1 }, { op: "increment", key: "name", by: 5 }] }
      })
      expectError(reply, 409, "NotANumber")
      expect((reply.json as { message: string }).message).toContain(`key "name"`)
      expect((reply.json as { message: string }).message).toContain("not a number")
      expect((yield* request(base, "GET", "/stores/s/keys/other")).status).toBe(404)
    }))

  it.scopedLive("a body that is not an atomic write is a 400 that names each problem", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const cases: ReadonlyArray<readonly [unknown, string, RegExp]> = [
        [{}, "InvalidRequest", /ops: is missing/],
        [{ ops: [{ op: "rename", key: "k" }] }, "InvalidRequest", /ops\.0\.op: Expected "put" \| "delete" \| "increment"/],
        [{ ops: [{ op: "put", key: "k" }] }, "InvalidRequest", /ops\.0\.value: is missing/],
        [{ ops: [{ op: "put", key: 5, value: 1 }] }, "InvalidRequest", /ops\.0\.key/],
        [{ ops: [{ op: "put", key: "k", value: 1, ttl: 0 }] }, "InvalidRequest", /ops\.0\.ttl: ttl: send a number of seconds above 0/],
        [{ ops: [{ op: "increment", key: "k", by: "1" }] }, "InvalidRequest", /ops\.0\.by/],
        [{ checks: [{ key: "a", version: -1 }], ops: [] }, "InvalidRequest", /checks\.0\.version: send the version/],
        [{ checks: [{ key: "a", version: 1.5 }], ops: [], extra: 1 }, "InvalidRequest", /checks\.0\.version/],
        [{ ops: [{ op: "delete", key: "" }] }, "InvalidKey", /it is empty/],
        [{ ops: Array.from({ length: 1001 }, (_, i) => ({ op: "delete", key: `k${i}` })) }, "TooManyOperations", /1001 operations/],
        [[1, 2], "InvalidRequest", /the body: Expected/]
      ]
      for (const [body, error, message] of cases) {
        const reply = yield* request(base, "POST", "/stores/s/atomic", { body })
        expectError(reply, 400, error)
        expect((reply.json as { message: string }).message, JSON.stringify(body).slice(0, 80)).toMatch(message)
      }
      expectError(
        yield* request(base, "POST", "/stores/s/atomic", { raw: "{\"ops\":[{\"op\":\"put\",\"key\":\"k\",\"value\":1e400}]}", headers: { "content-type": "application/json" } }),
        400,
        "InvalidValue"
      )
      expectError(yield* request(base, "POST", "/stores/s/atomic", { raw: "{\"ops\":", headers: { "content-type": "application/json" } }), 400, "InvalidJson")
      expectError(yield* request(base, "POST", "/stores/bad%2Fname/atomic", { body: { ops: [] } }), 400, "InvalidName")
      expect((yield* request(base, "GET", "/stores/s/keys")).json).toEqual({ keys: [], next: null })
    }))

  it.scopedLive("413 past the body limit or the atomic byte limit, 415 for a form, 405 for another method", () =>
    Effect.gen(function*() {
      const base = yield* serve({ maxBodyBytes: 4096 }, KV.layerMemory({ limits: { maxAtomicBytes: 1024 } }))
      const ops = (bytes: number) => [{ op: "put", key: "k", value: "x".repeat(bytes) }]
      expectError(yield* request(base, "POST", "/stores/s/atomic", { body: { ops: ops(5000) } }), 413, "PayloadTooLarge")
      expectError(yield* request(base, "POST", "/stores/s/atomic", { body: { ops: ops(2000) } }), 413, "AtomicTooLarge")
      expectError(
        yield* request(base, "POST", "/stores/s/atomic", { raw: "ops=1", headers: { "content-type": "application/x-www-form-urlencoded" } }),
        415,
        "UnsupportedMediaType"
      )
      const get = yield* request(base, "GET", "/stores/s/atomic")
      expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"])
    }))
})
