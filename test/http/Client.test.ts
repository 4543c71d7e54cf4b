import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Client from "../../src/http/Client.js"
import { serve } from "./server.js"

/** The failure's class and, for the API's errors, the `error` of its body. */
const kind = (failure: { readonly _tag: string }) => [failure._tag, "error" in failure ? failure.error : undefined]

describe("typed client", () => {
  it.scopedLive("does every route, with the API's errors as typed failures", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({ baseUrl: yield* serve({ token: "t" }), token: "t" })
      const path = { store: "users", key: "ada/lovelace %" }
      expect(yield* client.health.check()).toEqual({ status: "ok" })
      const { version } = yield* client.keys.put({ path, payload: { name: "Ada" }, urlParams: {}, headers: {} })
      expect(yield* client.keys.get({ path, headers: {} })).toEqual({ name: "Ada" })
      const stale = yield* Effect.flip(
        client.keys.put({ path, payload: 1, urlParams: {}, headers: { "if-match": version + 1 } })
      )
      expect(kind(stale)).toEqual(["PreconditionFailed", "VersionMismatch"])
      const { version: king } = yield* client.keys.put({
        path,
        payload: { name: "Ada King" },
        urlParams: { ttl: 60 },
        headers: { "if-match": version }
      })
      const { version: extended } = yield* client.keys.expire({ path, payload: { ttl: 3600 }, headers: { "if-match": king } })
      const { version: persisted } = yield* client.keys.persist({ path, headers: {} })
      expect(persisted).toBeGreaterThan(extended)
      const { version: counted } = yield* client.atomic.write({
        path: { store: "users" },
        payload: { checks: [{ key: path.key, version: persisted }], ops: [{ op: "increment", key: "count", by: 2 }] }
      })
      expect(counted).toBeGreaterThan(persisted)
      const checked = yield* Effect.flip(client.atomic.write({
        path: { store: "users" },
        payload: { checks: [{ key: "count", version: null }], ops: [] }
      }))
      expect(kind(checked)).toEqual(["ChecksFailed", "AtomicCheckFailed"])
      expect(checked._tag === "ChecksFailed" && checked.failed).toEqual([{ key: "count", expected: null, actual: counted }])
      const notNumber = yield* Effect.flip(client.atomic.write({
        path: { store: "users" },
        payload: { ops: [{ op: "increment", key: path.key }] }
      }))
      expect(kind(notNumber)).toEqual(["Conflict", "NotANumber"])
      yield* client.keys.delete({ path: { store: "users", key: "count" }, headers: {} })
      expect(yield* client.keys.list({ path: { store: "users" }, urlParams: { limit: 10 } })).toEqual({
        keys: ["ada/lovelace %"],
        next: Option.none()
      })
      expect(yield* client.stores.list()).toEqual({ stores: ["users"] })
      yield* client.keys.delete({ path, headers: {} })
      const absent = yield* Effect.flip(client.keys.get({ path, headers: {} }))
      expect(kind(absent)).toEqual(["NotFound", "NotFound"])
      const badName = yield* Effect.flip(client.keys.get({ path: { store: "no/slash", key: "k" }, headers: {} }))
      expect(kind(badName)).toEqual(["BadRequest", "InvalidName"])
      yield* client.stores.drop({ path: { store: "users" } })
      expect(yield* client.stores.list()).toEqual({ stores: [] })
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("without the token, fails with Unauthorized", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({ baseUrl: yield* serve({ token: "t" }) })
      const refused = yield* Effect.flip(client.stores.list())
      expect(refused._tag).toBe("Unauthorized")
      expect(refused.message).toMatch(/Authorization: Bearer/)
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})
