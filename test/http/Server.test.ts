import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { KV } from "../../src/kv/KV.js"
import { kvWith, makeControl } from "../kv/crashable.js"
import { rawRequest, type Reply, request, segment, serve } from "./server.js"

/** Every error response is `{ error, message }` with this `error`. */
const expectError = (reply: Reply, status: number, error: string) => {
  expect({ status: reply.status, error: (reply.json as { error?: unknown }).error }).toEqual({ status, error })
  expect(reply.headers.get("content-type")).toMatch(/^application\/json/)
  expect(Object.keys(reply.json as object).sort()).toEqual(["error", "message"])
  expect((reply.json as { message: string }).message.length).toBeGreaterThan(0)
}

describe("HTTP server", () => {
  it.scopedLive("GET /health answers ok", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const reply = yield* request(base, "GET", "/health")
      expect([reply.status, reply.json]).toEqual([200, { status: "ok" }])
    }))

  it.scopedLive("PUT then GET gives back any JSON value, with its version as the ETag", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const values = [{ name: "Ada", tags: ["x"], nested: { n: 1.5 } }, "text", 42, null, true, [1, [2]], {}]
      for (const [i, value] of values.entries()) {
        const put = yield* request(base, "PUT", `/stores/users/keys/k${i}`, { body: value })
        expect(put.status).toBe(200)
        const { version } = put.json as { version: number }
        const get = yield* request(base, "GET", `/stores/users/keys/k${i}`)
        expect([get.status, get.json, get.headers.get("etag")]).toEqual([200, value, `"${version}"`])
      }
    }))

  // Not "." or "..": URL parsers, fetch's included, resolve them (even as %2E) before sending.
  it.scopedLive("keys are any UTF-8 text, percent-encoded in the path", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const keys = ["a/b c", "100%", "?#&=+", "ünïcödé 🗝", "...", "../../etc/passwd"]
      for (const key of keys) {
        expect((yield* request(base, "PUT", `/stores/odd/keys/${segment(key)}`, { body: key })).status).toBe(200)
      }
      for (const key of keys) {
        expect((yield* request(base, "GET", `/stores/odd/keys/${segment(key)}`)).json).toBe(key)
      }
      const list = yield* request(base, "GET", "/stores/odd/keys")
      expect(list.json).toEqual({ keys: [...keys].sort(), next: null })
    }))

  it.scopedLive("GET of an absent key is 404", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      expectError(yield* request(base, "GET", "/stores/users/keys/nobody"), 404, "NotFound")
    }))

  it.scopedLive("GET /stores/{store}/keys pages through sorted keys with prefix, after and limit", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      for (const key of ["b2", "a1", "b1", "b3", "c1"]) {
        yield* request(base, "PUT", `/stores/s/keys/${key}`, { body: 1 })
      }
      const first = yield* request(base, "GET", "/stores/s/keys?prefix=b&limit=2")
      expect([first.status, first.json]).toEqual([200, { keys: ["b1", "b2"], next: "b2" }])
      const second = yield* request(base, "GET", "/stores/s/keys?prefix=b&limit=2&after=b2")
      expect(second.json).toEqual({ keys: ["b3"], next: null })
      expect((yield* request(base, "GET", "/stores/s/keys")).json).toEqual({
        keys: ["a1", "b1", "b2", "b3", "c1"],
        next: null
      })
      expect((yield* request(base, "GET", "/stores/empty/keys")).json).toEqual({ keys: [], next: null })
    }))

  it.scopedLive("GET /stores lists the stores that hold data", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      yield* request(base, "PUT", "/stores/b/keys/k", { body: 1 })
      yield* request(base, "PUT", "/stores/a/keys/k", { body: 1 })
      const reply = yield* request(base, "GET", "/stores")
      expect([reply.status, reply.json]).toEqual([200, { stores: ["a", "b"] }])
    }))

  it.scopedLive("GET /stores/{store} gives the store's key count and version", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      expect((yield* request(base, "GET", "/stores/fresh")).json).toEqual({ size: 0, version: 0 })
      yield* request(base, "PUT", "/stores/s/keys/a", { body: 1 })
      yield* request(base, "PUT", "/stores/s/keys/b", { body: 2 })
      const put = yield* request(base, "PUT", "/stores/s/keys/a", { body: 3 })
      const reply = yield* request(base, "GET", "/stores/s")
      expect([reply.status, reply.json]).toEqual([200, { size: 2, version: (put.json as { version: number }).version }])
      yield* request(base, "DELETE", "/stores/s/keys/b")
      expect((yield* request(base, "GET", "/stores/s")).json).toEqual({ size: 1, version: 4 })
      expectError(yield* request(base, "GET", "/stores/bad%00name"), 400, "InvalidName")
    }))

  it.scopedLive("DELETE of a key is 204, then 404", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })
      const deleted = yield* request(base, "DELETE", "/stores/s/keys/k")
      expect([deleted.status, deleted.text]).toEqual([204, ""])
      expectError(yield* request(base, "GET", "/stores/s/keys/k"), 404, "NotFound")
      expectError(yield* request(base, "DELETE", "/stores/s/keys/k"), 404, "NotFound")
    }))

  it.scopedLive("DELETE /stores/{store} drops the store and its data", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      yield* request(base, "PUT", "/stores/gone/keys/k", { body: 1 })
      yield* request(base, "PUT", "/stores/kept/keys/k", { body: 1 })
      const dropped = yield* request(base, "DELETE", "/stores/gone")
      expect(dropped.status).toBe(204)
      expect((yield* request(base, "GET", "/stores")).json).toEqual({ stores: ["kept"] })
      expectError(yield* request(base, "GET", "/stores/gone/keys/k"), 404, "NotFound")
    }))

  describe("compare-and-set with ETags", () => {
    it.scopedLive("If-Match writes only over the version it names", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        yield* request(base, "PUT", "/stores/s/keys/k", { body: "v1" })
        const etag = (yield* request(base, "GET", "/stores/s/keys/k")).headers.get("etag")!
        const updated = yield* request(base, "PUT", "/stores/s/keys/k", { body: "v2", headers: { "if-match": etag } })
        expect(updated.status).toBe(200)
        // The same ETag is now stale: the second writer loses.
        const stale = yield* request(base, "PUT", "/stores/s/keys/k", { body: "v3", headers: { "if-match": etag } })
        expectError(stale, 412, "VersionMismatch")
        const now = yield* request(base, "GET", "/stores/s/keys/k")
        expect([now.json, now.headers.get("etag")]).toEqual(["v2", `"${(updated.json as { version: number }).version}"`])
        expectError(
          yield* request(base, "PUT", "/stores/s/keys/absent", { body: 1, headers: { "if-match": "\"1\"" } }),
          412,
          "VersionMismatch"
        )
      }))

    it.scopedLive("If-None-Match: * creates only", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const created = yield* request(base, "PUT", "/stores/s/keys/k", { body: 1, headers: { "if-none-match": "*" } })
        expect(created.status).toBe(200)
        const again = yield* request(base, "PUT", "/stores/s/keys/k", { body: 2, headers: { "if-none-match": "*" } })
        expectError(again, 412, "VersionMismatch")
        expect((yield* request(base, "GET", "/stores/s/keys/k")).json).toBe(1)
      }))

    it.scopedLive("DELETE with If-Match deletes only that version", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const first = (yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })).json as { version: number }
        yield* request(base, "PUT", "/stores/s/keys/k", { body: 2 })
        const stale = yield* request(base, "DELETE", "/stores/s/keys/k", { headers: { "if-match": `"${first.version}"` } })
        expectError(stale, 412, "VersionMismatch")
        const etag = (yield* request(base, "GET", "/stores/s/keys/k")).headers.get("etag")!
        expect((yield* request(base, "DELETE", "/stores/s/keys/k", { headers: { "if-match": etag } })).status).toBe(204)
      }))

    it.scopedLive("a malformed If-Match or If-None-Match is 400 with a sentence saying what to send", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const cases: ReadonlyArray<readonly [string, string, string, RegExp]> = [
          ["PUT", "if-match", "3", /^If-Match: send a version as ETag gives it, a number in double quotes such as "5"; got "3"$/],
          ["PUT", "if-match", "W/\"3\"", /^If-Match: a weak entity tag \("W\/\\"3\\""\) cannot guard a write; send a version/],
          ["PUT", "if-match", "\"x\"", /^If-Match: send a version/],
          ["PUT", "if-match", "*", /^If-Match: send a version/],
          ["DELETE", "if-match", "\"1\", \"2\"", /^If-Match: send one version, not a list/],
          ["PUT", "if-none-match", "3", /^If-None-Match: send a version as ETag gives it, .*, or \*; got "3"$/],
          ["GET", "if-none-match", "soon", /^If-None-Match: send a version/]
        ]
        for (const [method, header, tag, sentence] of cases) {
          const reply = yield* request(base, method, "/stores/s/keys/k", {
            headers: { [header]: tag },
            ...(method === "PUT" ? { body: 1 } : {})
          })
          expectError(reply, 400, "InvalidRequest")
          expect((reply.json as { message: string }).message).toMatch(sentence)
        }
      }))

    it.scopedLive("If-None-Match: \"<version>\" on a PUT writes unless the key is at that version", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const first = (yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })).json as { version: number }
        const same = yield* request(base, "PUT", "/stores/s/keys/k", { body: 2, headers: { "if-none-match": `"${first.version}"` } })
        expectError(same, 412, "VersionMismatch")
        expect((same.json as { message: string }).message).toContain(`still at version ${first.version}`)
        expect((yield* request(base, "GET", "/stores/s/keys/k")).json).toBe(1)
        const other = yield* request(base, "PUT", "/stores/s/keys/k", { body: 3, headers: { "if-none-match": `W/"${first.version + 7}"` } })
        expect(other.status).toBe(200)
      }))

    it.scopedLive("If-None-Match on a GET of an unchanged key answers 304 with the ETag and no body", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        yield* request(base, "PUT", "/stores/s/keys/k", { body: { n: 1 } })
        const etag = (yield* request(base, "GET", "/stores/s/keys/k")).headers.get("etag")!
        for (const tag of [etag, `W/${etag}`, "*"]) {
          const unchanged = yield* request(base, "GET", "/stores/s/keys/k", { headers: { "if-none-match": tag } })
          expect([unchanged.status, unchanged.text, unchanged.headers.get("etag")]).toEqual([304, "", etag])
        }
        yield* request(base, "PUT", "/stores/s/keys/k", { body: { n: 2 } })
        const changed = yield* request(base, "GET", "/stores/s/keys/k", { headers: { "if-none-match": etag } })
        expect([changed.status, changed.json]).toEqual([200, { n: 2 }])
        expectError(yield* request(base, "GET", "/stores/s/keys/absent", { headers: { "if-none-match": "*" } }), 404, "NotFound")
      }))
  })

  describe("errors", () => {
    it.scopedLive("400 for a bad store name, key, query or body", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        expectError(yield* request(base, "GET", "/stores/b%40d/keys/k"), 400, "InvalidName")
        expectError(yield* request(base, "GET", `/stores/s/keys/${"k".repeat(1025)}`), 400, "InvalidKey")
        const notANumber = yield* request(base, "GET", "/stores/s/keys?limit=abc")
        expectError(notANumber, 400, "InvalidRequest")
        expect((notANumber.json as { message: string }).message).toBe(
          "limit: send a whole number from 1 to 1000, as in ?limit=100; got \"abc\""
        )
        const twice = yield* request(base, "GET", "/stores/s/keys?prefix=a&prefix=b")
        expect([twice.status, (twice.json as { message: string }).message]).toEqual([400, "prefix: give it once"])
        expectError(yield* request(base, "GET", "/stores/s/keys?limit=0"), 400, "InvalidQuery")
        expectError(yield* request(base, "GET", "/stores/s/keys?limit=1001"), 400, "InvalidQuery")
        const json = { "content-type": "application/json" }
        expectError(yield* request(base, "PUT", "/stores/s/keys/k", { raw: "{\"a\":", headers: json }), 400, "InvalidJson")
        expectError(yield* request(base, "PUT", "/stores/s/keys/k", { raw: "", headers: json }), 400, "InvalidJson")
      }))

    it.scopedLive("404 with a JSON body for an unknown route", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        expectError(yield* request(base, "GET", "/nowhere"), 404, "NotFound")
        expectError(yield* request(base, "GET", "/stores/s/keys/k/more"), 404, "NotFound")
      }))

    it.scopedLive("405 with Allow for a known path and another method", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const post = yield* request(base, "POST", "/stores/s/keys/k", { body: 1 })
        expectError(post, 405, "MethodNotAllowed")
        expect(post.headers.get("allow")).toBe("GET, PUT, DELETE")
        const put = yield* request(base, "PUT", "/stores", { body: 1 })
        expectError(put, 405, "MethodNotAllowed")
        expect(put.headers.get("allow")).toBe("GET")
        expect((yield* request(base, "PATCH", "/health", { body: 1 })).headers.get("allow")).toBe("GET")
      }))

    it.scopedLive("413 for a body over the limit, and for a value over the store's limit", () =>
      Effect.gen(function*() {
        const base = yield* serve({ maxBodyBytes: 100 })
        expectError(yield* request(base, "PUT", "/stores/s/keys/k", { body: "x".repeat(200) }), 413, "PayloadTooLarge")
        expect((yield* request(base, "PUT", "/stores/s/keys/k", { body: "x".repeat(90) })).status).toBe(200)
        const small = yield* serve({}, KV.layerMemory({ limits: { maxValueBytes: 10 } }))
        expectError(yield* request(small, "PUT", "/stores/s/keys/k", { body: "x".repeat(20) }), 413, "ValueTooLarge")
      }))

    it.scopedLive("415 for a body that is neither JSON nor text; a body without Content-Type is taken as JSON", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        for (const type of ["application/xml", "image/png", "text/plain; charset=latin1"]) {
          const reply = yield* request(base, "PUT", "/stores/s/keys/k", { raw: "1", headers: { "content-type": type } })
          expectError(reply, 415, "UnsupportedMediaType")
        }
        const vendor = { "content-type": "application/vnd.api+json; charset=utf-8" }
        expect((yield* request(base, "PUT", "/stores/s/keys/k", { raw: "1", headers: vendor })).status).toBe(200)
        // fetch would send a string as text/plain: node:http sends no Content-Type at all.
        expect((yield* rawRequest(base, "PUT", "/stores/s/keys/bare", { body: "[1]" })).status).toBe(200)
        expect((yield* request(base, "GET", "/stores/s/keys/bare")).json).toEqual([1])
      }))

    it.scopedLive("a form body, as curl -d sends it, is 415 with a message that names curl --json", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        for (const type of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
          const reply = yield* request(base, "PUT", "/stores/s/keys/k", { raw: "hello", headers: { "content-type": type } })
          expectError(reply, 415, "UnsupportedMediaType")
          expect((reply.json as { message: string }).message).toContain("curl --json")
        }
      }))

    it.scopedLive("a text/plain body is stored as a JSON string", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        for (const [type, text] of [["text/plain", "hello"], ["text/plain; charset=utf-8", "{\"not\": \"parsed\"} ✓"], ["text/plain", ""]]) {
          const put = yield* request(base, "PUT", "/stores/s/keys/t", { raw: text!, headers: { "content-type": type! } })
          expect(put.status).toBe(200)
          expect((yield* request(base, "GET", "/stores/s/keys/t")).json).toBe(text)
        }
      }))

    it.scopedLive("numbers that overflow or underflow a double are 400 InvalidValue, naming where", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const json = { "content-type": "application/json" }
        for (const [body, path] of [["1e400", "the value is not JSON:"], ["[-1e400, 1e-400]", "at $[0]:"], ["{\"a\": [1e-400]}", "at $.a[0]:"]]) {
          const reply = yield* request(base, "PUT", "/stores/s/keys/n", { raw: body!, headers: json })
          expectError(reply, 400, "InvalidValue")
          expect((reply.json as { message: string }).message).toContain(path)
        }
        expectError(yield* request(base, "PUT", "/stores/s/keys/n", { raw: "-0", headers: json }), 400, "InvalidValue")
        expectError(yield* request(base, "GET", "/stores/s/keys/n"), 404, "NotFound")
      }))

    it.scopedLive("a path with an empty segment is 404 with the path it likely meant", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })
        for (const [path, meant] of [["/stores/", "/stores"], ["//stores", "/stores"], ["/stores/s/keys/", "/stores/s/keys"], ["/stores//keys/k", "/stores/keys/k"]]) {
          const reply = yield* rawRequest(base, "GET", path!)
          expectError(reply, 404, "NotFound")
          expect((reply.json as { message: string }).message).toContain(`did you mean ${meant}?`)
        }
      }))

    it.scopedLive("503 with Retry-After when the store is overloaded", () => {
      const control = makeControl()
      return Effect.gen(function*() {
        // A mailbox of 0 holds nothing: while the store is busy with a write, every other is refused at once.
        const base = yield* serve({}, kvWith(control, { mailboxCapacity: 0 }))
        const gate = yield* Deferred.make<void>()
        const entered = yield* Deferred.make<void>()
        control.gate = gate
        control.entered = entered
        const busy = yield* Effect.fork(request(base, "PUT", "/stores/s/keys/busy", { body: 0 }))
        yield* Deferred.await(entered)
        const reply = yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })
        expectError(reply, 503, "Overloaded")
        expect(reply.headers.get("retry-after")).toBe("1")
        // Reads do not queue.
        expectError(yield* request(base, "GET", "/stores/s/keys/k"), 404, "NotFound")
        control.gate = undefined
        yield* Deferred.succeed(gate, undefined)
        expect((yield* Fiber.join(busy)).status).toBe(200)
      })
    })
  })

  it.scopedLive("POST /stores/{store}/restart answers 204, on a running store too, and keeps its data", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })
      const restarted = yield* request(base, "POST", "/stores/s/restart")
      expect([restarted.status, restarted.text]).toEqual([204, ""])
      expect((yield* request(base, "GET", "/stores/s/keys/k")).json).toBe(1)
      expect((yield* request(base, "POST", "/stores/never-used/restart")).status).toBe(204)
      expectError(yield* request(base, "POST", "/stores/b%40d/restart"), 400, "InvalidName")
    }))

  it.scopedLive("POST /stores/{store}/restart brings back a store that failed past its restart intensity", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const base = yield* serve({}, kvWith(control))
      yield* request(base, "PUT", "/stores/bad/keys/k", { body: "kept" })
      control.failing.add("bad")
      // Three crashes within 5 seconds are restarted; the fourth is one too many.
      for (let i = 0; i < 4; i++) expect((yield* request(base, "PUT", "/stores/bad/keys/x", { body: i })).status).toBe(504)
      const failed = yield* request(base, "GET", "/stores/bad/keys/k")
      expectError(failed, 503, "StoreFailed")
      expect((failed.json as { message: string }).message).toContain("restart")
      control.failing.delete("bad")
      expect((yield* request(base, "POST", "/stores/bad/restart")).status).toBe(204)
      expect((yield* request(base, "GET", "/stores/bad/keys/k")).json).toBe("kept")
      expect((yield* request(base, "PUT", "/stores/bad/keys/k", { body: "again" })).status).toBe(200)
    })
  })

  it.scopedLive("serves the web console at /ui unless told not to", () =>
    Effect.gen(function*() {
      expect((yield* request(yield* serve(), "GET", "/ui")).status).toBe(200)
      expectError(yield* request(yield* serve({ console: false }), "GET", "/ui"), 404, "NotFound")
    }))

  it.scopedLive("a browser's /favicon.ico is an empty 204", () =>
    Effect.gen(function*() {
      const base = yield* serve()
      const reply = yield* request(base, "GET", "/favicon.ico")
      expect([reply.status, reply.text]).toEqual([204, ""])
    }))

  describe("CORS", () => {
    const preflight = {
      origin: "https://app.example",
      "access-control-request-method": "PUT",
      "access-control-request-headers": "content-type, if-match"
    }

    it.scopedLive("off by default: no CORS headers, and OPTIONS is 405", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const options = yield* request(base, "OPTIONS", "/stores/s/keys/k", { headers: preflight })
        expectError(options, 405, "MethodNotAllowed")
        const get = yield* request(base, "GET", "/health", { headers: { origin: "https://app.example" } })
        expect(get.headers.get("access-control-allow-origin")).toBe(null)
      }))

    it.scopedLive("with corsOrigins, a preflight is answered and every answer, errors too, carries the origin", () =>
      Effect.gen(function*() {
        const base = yield* serve({ corsOrigins: ["https://app.example", "https://admin.example"] })
        const options = yield* request(base, "OPTIONS", "/stores/s/keys/k", { headers: preflight })
        expect(options.status).toBe(204)
        expect(options.headers.get("access-control-allow-origin")).toBe("https://app.example")
        expect(options.headers.get("access-control-allow-methods")).toContain("PUT")
        expect(options.headers.get("access-control-allow-headers")).toContain("if-match")
        const put = yield* request(base, "PUT", "/stores/s/keys/k", { body: 1, headers: { origin: "https://app.example" } })
        expect(put.headers.get("access-control-allow-origin")).toBe("https://app.example")
        const get = yield* request(base, "GET", "/stores/s/keys/k", { headers: { origin: "https://admin.example" } })
        expect(get.headers.get("access-control-expose-headers")).toContain("etag")
        const missing = yield* request(base, "GET", "/stores/s/keys/absent", { headers: { origin: "https://app.example" } })
        expect([missing.status, missing.headers.get("access-control-allow-origin")]).toEqual([404, "https://app.example"])
        const stranger = yield* request(base, "GET", "/health", { headers: { origin: "https://evil.example" } })
        expect(stranger.headers.get("access-control-allow-origin")).toBe(null)
        const any = yield* serve({ corsOrigins: ["*"] })
        expect((yield* request(any, "GET", "/health", { headers: { origin: "https://x.example" } })).headers.get("access-control-allow-origin"))
          .toBe("*")
      }))
  })

  describe("token", () => {
    it.scopedLive("when set, every route but /health needs Authorization: Bearer", () =>
      Effect.gen(function*() {
        const base = yield* serve({ token: "s3cret" })
        expect((yield* request(base, "GET", "/health")).status).toBe(200)
        const routes: ReadonlyArray<readonly [string, string]> = [
          ["GET", "/stores"],
          ["GET", "/stores/s"],
          ["DELETE", "/stores/s"],
          ["GET", "/stores/s/keys"],
          ["GET", "/stores/s/keys/k"],
          ["PUT", "/stores/s/keys/k"],
          ["DELETE", "/stores/s/keys/k"],
          ["GET", "/stores/s/entries"],
          ["GET", "/stores/s/export"],
          ["GET", "/stores/s/watch"]
        ]
        for (const [method, path] of routes) {
          for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "Bearer s3cret-and-more" }]) {
            const refused = yield* request(base, method, path, { headers, ...(method === "PUT" ? { body: 1 } : {}) })
            expectError(refused, 401, "Unauthorized")
            expect(refused.headers.get("www-authenticate")).toBe("Bearer")
          }
        }
        const auth = { authorization: "Bearer s3cret" }
        expect((yield* request(base, "PUT", "/stores/s/keys/k", { body: 1, headers: auth })).status).toBe(200)
        expect((yield* request(base, "GET", "/stores/s/keys/k", { headers: auth })).json).toBe(1)
        expect((yield* request(base, "GET", "/stores", { headers: auth })).json).toEqual({ stores: ["s"] })
      }))

    it.scopedLive("when not set, no route needs it", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        expect((yield* request(base, "PUT", "/stores/s/keys/k", { body: 1 })).status).toBe(200)
        expect((yield* request(base, "GET", "/stores", { headers: { authorization: "Bearer anything" } })).status)
          .toBe(200)
      }))
  })

  describe("documentation", () => {
    it.scopedLive("GET /openapi.json lists every route", () =>
      Effect.gen(function*() {
        const base = yield* serve({ token: "t" })
        const reply = yield* request(base, "GET", "/openapi.json")
        expect(reply.status).toBe(200)
        const paths = (reply.json as { paths: Record<string, Record<string, unknown>> }).paths
        const routes = Object.entries(paths).flatMap(([path, operations]) =>
          Object.keys(operations).filter((key) => ["get", "put", "delete", "post", "patch"].includes(key)).map((
            method
          ) => `${method.toUpperCase()} ${path}`)
        )
        expect(routes.sort()).toEqual([
          "DELETE /stores/{store}",
          "DELETE /stores/{store}/keys/{key}",
          "DELETE /stores/{store}/keys/{key}/ttl",
          "GET /health",
          "GET /metrics",
          "GET /stores",
          "GET /stores/{store}",
          "GET /stores/{store}/entries",
          "GET /stores/{store}/export",
          "GET /stores/{store}/keys",
          "GET /stores/{store}/keys/{key}",
          "GET /stores/{store}/watch",
          "POST /stores/{store}/atomic",
          "POST /stores/{store}/restart",
          "PUT /stores/{store}/keys/{key}",
          "PUT /stores/{store}/keys/{key}/ttl"
        ])
        const put = paths["/stores/{store}/keys/{key}"]!["put"] as { responses: Record<string, unknown> }
        expect(Object.keys(put.responses).sort()).toEqual(["200", "400", "401", "412", "413", "415", "503", "504", "507"])
      }))

    it.scopedLive("GET /docs serves Swagger UI", () =>
      Effect.gen(function*() {
        const base = yield* serve()
        const reply = yield* request(base, "GET", "/docs")
        expect(reply.status).toBe(200)
        expect(reply.headers.get("content-type")).toMatch(/^text\/html/)
        expect(reply.text).toContain("swagger-ui")
      }))
  })
})
