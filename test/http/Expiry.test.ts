/**
 * Expiry over HTTP: `?ttl=` on a put, the `KV-Expires-At` header of a read, and the `/ttl` routes
 * that set and remove a key's expiry.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Reply, request, serve } from "./server.js"

const expectError = (reply: Reply, status: number, error: string) =>
  expect({ status: reply.status, error: (reply.json as { error?: unknown }).error }).toEqual({ status, error })

const versionOf = (reply: Reply) => (reply.json as { version: number }).version

const expiresAt = (reply: Reply) => {
  const header = reply.headers.get("kv-expires-at")
  return header === null ? undefined : Number(header)
}

describe("HTTP expiry", () => {
  it.scopedLive("PUT ?ttl=SECONDS sets an expiry that GET tells in KV-Expires-At, in epoch ms; a PUT without clears it", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const before = Date.now()
      const put = yield* request(base, "PUT", "/stores/s/keys/k?ttl=30", { body: { a: 1 } })
      const after = Date.now()
      expect(put.status).toBe(200)
      const get = yield* request(base, "GET", "/stores/s/keys/k")
      expect([get.status, get.json, get.headers.get("etag")]).toEqual([200, { a: 1 }, `"${versionOf(put)}"`])
      expect(expiresAt(get)).toBeGreaterThanOrEqual(before + 30_000)
      expect(expiresAt(get)).toBeLessThanOrEqual(after + 30_000)
      const notModified = yield* request(base, "GET", "/stores/s/keys/k", { headers: { "if-none-match": `"${versionOf(put)}"` } })
      expect([notModified.status, expiresAt(notModified)]).toEqual([304, expiresAt(get)])

      const decimals = yield* request(base, "PUT", "/stores/s/keys/k?ttl=2.5", { body: 2 })
      expect(decimals.status).toBe(200)
      expect(expiresAt(yield* request(base, "GET", "/stores/s/keys/k"))).toBeLessThanOrEqual(Date.now() + 2500)

      expect((yield* request(base, "PUT", "/stores/s/keys/k", { body: 3 })).status).toBe(200)
      const cleared = yield* request(base, "GET", "/stores/s/keys/k")
      expect([cleared.json, cleared.headers.has("kv-expires-at")]).toEqual([3, false])
    }))

  it.scopedLive("a ttl that is not a positive number of seconds is a 400 that says so", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      for (const ttl of ["0", "0.0", "-1", "abc", "1e3", "", "30s", "Infinity", "NaN", "1,5", "30&ttl=40"]) {
        const reply = yield* request(base, "PUT", `/stores/s/keys/k?ttl=${ttl}`, { body: 1 })
        expectError(reply, 400, "InvalidRequest")
        expect((reply.json as { message: string }).message, ttl).toMatch(/^ttl: /)
      }
      expectError(yield* request(base, "PUT", "/stores/s/keys/k?ttl=99999999999999", { body: 1 }), 400, "InvalidTtl")
      expectError(yield* request(base, "GET", "/stores/s/keys/k"), 404, "NotFound")
    }))

  it.scopedLive("a key is gone once its ttl has passed", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      expect((yield* request(base, "PUT", "/stores/s/keys/k?ttl=0.05", { body: 1 })).status).toBe(200)
      let reply = yield* request(base, "GET", "/stores/s/keys/k")
      while (reply.status === 200) reply = yield* request(base, "GET", "/stores/s/keys/k")
      expectError(reply, 404, "NotFound")
      expect((yield* request(base, "GET", "/stores/s/keys")).json).toEqual({ keys: [], next: null })
    }))

  it.scopedLive("PUT …/ttl sets or moves a key's expiry and DELETE …/ttl removes it, keeping the value", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const put = yield* request(base, "PUT", "/stores/s/keys/k", { body: "v" })
      const before = Date.now()
      const expire = yield* request(base, "PUT", "/stores/s/keys/k/ttl", { body: { ttl: 60 } })
      expect(expire.status).toBe(200)
      expect(versionOf(expire)).toBeGreaterThan(versionOf(put))
      const read = yield* request(base, "GET", "/stores/s/keys/k")
      expect([read.json, read.headers.get("etag")]).toEqual(["v", `"${versionOf(expire)}"`])
      expect(expiresAt(read)).toBeGreaterThanOrEqual(before + 60_000)

      const stale = yield* request(base, "DELETE", "/stores/s/keys/k/ttl", { headers: { "if-match": `"${versionOf(put)}"` } })
      expectError(stale, 412, "VersionMismatch")
      const persist = yield* request(base, "DELETE", "/stores/s/keys/k/ttl", { headers: { "if-match": `"${versionOf(expire)}"` } })
      expect(persist.status).toBe(200)
      const kept = yield* request(base, "GET", "/stores/s/keys/k")
      expect([kept.json, kept.headers.get("etag"), kept.headers.has("kv-expires-at")]).toEqual(["v", `"${versionOf(persist)}"`, false])
      // No expiry to remove: the version stays.
      expect(versionOf(yield* request(base, "DELETE", "/stores/s/keys/k/ttl"))).toBe(versionOf(persist))

      expectError(yield* request(base, "PUT", "/stores/s/keys/absent/ttl", { body: { ttl: 60 } }), 404, "NotFound")
      expectError(yield* request(base, "DELETE", "/stores/s/keys/absent/ttl"), 404, "NotFound")
      for (const body of [{ ttl: 0 }, { ttl: -1 }, { ttl: "60" }, {}, { ttl: null }]) {
        expectError(yield* request(base, "PUT", "/stores/s/keys/k/ttl", { body }), 400, "InvalidRequest")
      }
    }))

  it.scopedLive("a key that ends in /ttl, percent-encoded, is a key like any other", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      expect((yield* request(base, "PUT", "/stores/s/keys/a%2Fttl", { body: 1 })).status).toBe(200)
      expect((yield* request(base, "GET", "/stores/s/keys/a%2Fttl")).json).toBe(1)
      expectError(yield* request(base, "GET", "/stores/s/keys/a"), 404, "NotFound")
      expect((yield* request(base, "GET", "/stores/s/keys/a/ttl")).status).toBe(405)
    }))
})
