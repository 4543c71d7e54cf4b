/**
 * The endpoints of {@link KvApi} implemented on the `KV` service. They translate requests into
 * calls and results into responses; the store's rules stay in `KV`.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { KV } from "../kv/KV.js"
import { KvApi } from "./Api.js"
import { readJson } from "./Body.js"
import { fromKV, NotFound } from "./Errors.js"

const keyNotFound = (store: string, key: string) =>
  new NotFound({
    error: "NotFound",
    message: `key ${JSON.stringify(key.slice(0, 200))} is not in store "${store}"; list the keys with GET /stores/${store}/keys`
  })

const health = HttpApiBuilder.group(KvApi, "health", (handlers) => handlers.handle("check", () => Effect.succeed({ status: "ok" as const })))

const stores = HttpApiBuilder.group(KvApi, "stores", (handlers) =>
  Effect.map(KV, (kv) =>
    handlers
      .handle("list", () => Effect.map(Effect.mapError(kv.stores, fromKV), (stores) => ({ stores })))
      .handle("drop", ({ path }) => Effect.mapError(kv.dropStore(path.store), fromKV))))

const keys = (maxBodyBytes: number) =>
  HttpApiBuilder.group(KvApi, "keys", (handlers) =>
    Effect.map(KV, (kv) =>
      handlers
        .handle("list", ({ path, urlParams }) => Effect.mapError(kv.keys(path.store, urlParams), fromKV))
        .handle("get", ({ path }) =>
          Effect.flatMap(Effect.mapError(kv.getEntry(path.store, path.key), fromKV), (entry) =>
            Option.match(entry, {
              onNone: () => Effect.fail(keyNotFound(path.store, path.key)),
              // A response of our own: the value goes out as it is, with its version as the ETag.
              onSome: ({ value, version }) =>
                Effect.succeed(HttpServerResponse.unsafeJson(value, { headers: { etag: `"${version}"` } }))
            })))
        // Raw: the body is read here, so that 413 and 415 come before any parsing.
        .handleRaw("put", ({ headers, path, request }) =>
          Effect.gen(function*() {
            const value = yield* readJson(request, maxBodyBytes)
            const version = yield* Effect.mapError(
              kv.put(path.store, path.key, value, {
                ...(headers["if-match"] === undefined ? {} : { expectedVersion: headers["if-match"] }),
                ifAbsent: headers["if-none-match"] === "*"
              }),
              fromKV
            )
            return { version }
          }))
        .handle("delete", ({ headers, path }) =>
          Effect.flatMap(
            Effect.mapError(
              kv.delete(path.store, path.key, headers["if-match"] === undefined ? {} : { expectedVersion: headers["if-match"] })
                // A delete carries no value: `ValueTooLarge` cannot happen.
                .pipe(Effect.catchTag("ValueTooLarge", Effect.die)),
              fromKV
            ),
            (deleted) => deleted ? Effect.void : Effect.fail(keyNotFound(path.store, path.key))
          ))))

/** Every endpoint of {@link KvApi}, on the `KV` in context; the groups that need a token need `Authorization`. */
export const layer = (options: { readonly maxBodyBytes: number }) =>
  Layer.mergeAll(health, stores, keys(options.maxBodyBytes))
