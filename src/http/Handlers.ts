/**
 * The endpoints of {@link KvApi} implemented on the `KV` service. They translate requests into
 * calls and results into responses; the store's rules stay in `KV`.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type AtomicWrite, KV, type PutOptions } from "../kv/KV.js"
import * as Metrics from "../kv/Metrics.js"
import { AtomicBody, KvApi } from "./Api.js"
import { readValue, withinBudget } from "./Body.js"
import * as Entries from "./Entries.js"
import { BadRequest, fromKV, keyNotFound } from "./Errors.js"
import * as Watch from "./Watch.js"
import * as Prometheus from "./Prometheus.js"

const health = HttpApiBuilder.group(KvApi, "health", (handlers) => handlers.handle("check", () => Effect.succeed({ status: "ok" as const })))

const metrics = HttpApiBuilder.group(KvApi, "metrics", (handlers) =>
  handlers.handle("scrape", () =>
    Effect.map(Metrics.snapshot, (snapshot) =>
      HttpServerResponse.text(Prometheus.render(snapshot), { contentType: Prometheus.contentType }))))

const stores = HttpApiBuilder.group(KvApi, "stores", (handlers) =>
  Effect.map(KV, (kv) =>
    handlers
      .handle("list", () => Effect.map(Effect.mapError(kv.stores, fromKV), (stores) => ({ stores })))
      .handle("info", ({ path }) => Effect.mapError(kv.storeInfo(path.store), fromKV))
      .handle("drop", ({ path }) => Effect.mapError(kv.dropStore(path.store), fromKV))
      .handle("restart", ({ path }) => Effect.mapError(kv.restartStore(path.store), fromKV))))

/**
 * The put conditions that the headers ask for, and the expiry the query asks for.
 *
 * @since 0.2.0
 * @category utils
 */
export const putOptions = (
  headers: { readonly "if-match"?: number; readonly "if-none-match"?: number | "*" },
  ttl: number | undefined
): PutOptions => {
  const noneMatch = headers["if-none-match"]
  return {
    ...(headers["if-match"] === undefined ? {} : { expectedVersion: headers["if-match"] }),
    ...(noneMatch === "*" ? { ifAbsent: true } : noneMatch === undefined ? {} : { unlessVersion: noneMatch }),
    ...(ttl === undefined ? {} : { ttl: seconds(ttl) })
  }
}

const seconds = (ttl: number) => Duration.millis(ttl * 1000)

const ifMatch = (headers: { readonly "if-match"?: number }) =>
  headers["if-match"] === undefined ? {} : { expectedVersion: headers["if-match"] }

/**
 * The headers of a read: the version as the `ETag`, and when the key expires, if it does.
 *
 * @since 0.2.0
 * @category utils
 */
export const readHeaders = (version: number, expiresAt: number | undefined): Record<string, string> =>
  expiresAt === undefined ? { etag: `"${version}"` } : { etag: `"${version}"`, "kv-expires-at": String(expiresAt) }

/**
 * Whether a read answers 304: the client holds this version already (RFC 9110, If-None-Match on a read).
 *
 * @since 0.2.0
 * @category utils
 */
export const notModified = (noneMatch: number | "*" | undefined, version: number): boolean =>
  noneMatch === "*" || noneMatch === version

const decodeAtomicBody = Schema.decodeUnknown(AtomicBody, { errors: "all" })

/** An atomic write's body as `KV.atomic` takes it, or a 400 that names each problem. */
const atomicWrite = (body: unknown): Effect.Effect<AtomicWrite, BadRequest> =>
  decodeAtomicBody(body).pipe(
    Effect.mapError((error) =>
      new BadRequest({
        error: "InvalidRequest",
        message: ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
          `${issue.path.length === 0 ? "the body" : issue.path.join(".")}: ${issue.message}`
        ).join("; ")
      })
    ),
    Effect.map((write) => ({
      ...(write.checks === undefined ? {} : { checks: write.checks }),
      ops: write.ops.map((op) => op.op === "put" && op.ttl !== undefined ? { ...op, ttl: seconds(op.ttl) } : op)
    }))
  )

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 */
export interface HandlerOptions {
  readonly maxBodyBytes: number
  readonly maxBodyBytesInFlight: number
  /** How long a large body may wait for its turn to be read (see `Body.withinBudget`). */
  readonly requestTimeout: Duration.DurationInput
  /**
   * Completes when the server begins to drain: open watches end then (default: never).
   *
   * @since 0.2.0
   */
  readonly closing?: Effect.Effect<void>
}

const keys = (options: HandlerOptions) =>
  HttpApiBuilder.group(KvApi, "keys", (handlers) =>
    Effect.map(KV, (kv) => {
      const budgeted = withinBudget(options.maxBodyBytesInFlight, options.maxBodyBytes, options.requestTimeout)
      return handlers
        .handle("list", ({ path, urlParams }) => Effect.mapError(kv.keys(path.store, urlParams), fromKV))
        .handle("get", ({ headers, path }) =>
          Effect.flatMap(Effect.mapError(kv.getEntry(path.store, path.key), fromKV), (entry) => {
            if (Option.isNone(entry)) return Effect.fail(keyNotFound(path.store, path.key))
            const { expiresAt, value, version } = entry.value
            if (notModified(headers["if-none-match"], version)) {
              return Effect.succeed(HttpServerResponse.empty({ status: 304, headers: readHeaders(version, expiresAt) }))
            }
            // A response of our own: the value goes out as it is, with its version as the ETag.
            return Effect.succeed(HttpServerResponse.unsafeJson(value, { headers: readHeaders(version, expiresAt) }))
          }))
        // Raw: the body is read here, so that 413 and 415 come before any parsing.
        .handleRaw("put", ({ headers, path, request, urlParams }) =>
          budgeted(
            request,
            Effect.flatMap(readValue(request, options.maxBodyBytes), (value) =>
              Effect.mapError(kv.put(path.store, path.key, value, putOptions(headers, urlParams.ttl)), fromKV))
          ).pipe(Effect.map((version) => ({ version }))))
        .handle("delete", ({ headers, path }) =>
          Effect.flatMap(
            Effect.mapError(
              kv.delete(path.store, path.key, headers["if-match"] === undefined ? {} : { expectedVersion: headers["if-match"] })
                // A delete carries no value: `ValueTooLarge` cannot happen.
                .pipe(Effect.catchTag("ValueTooLarge", Effect.die)),
              fromKV
            ),
            (deleted) => deleted ? Effect.void : Effect.fail(keyNotFound(path.store, path.key))
          ))
        .handle("expire", ({ headers, path, payload }) =>
          Effect.flatMap(
            Effect.mapError(kv.expire(path.store, path.key, seconds(payload.ttl), ifMatch(headers)), fromKV),
            Option.match({ onNone: () => Effect.fail(keyNotFound(path.store, path.key)), onSome: (version) => Effect.succeed({ version }) })
          ))
        .handle("persist", ({ headers, path }) =>
          Effect.flatMap(
            Effect.mapError(kv.persist(path.store, path.key, ifMatch(headers)), fromKV),
            Option.match({ onNone: () => Effect.fail(keyNotFound(path.store, path.key)), onSome: (version) => Effect.succeed({ version }) })
          ))
    }))

const atomic = (options: HandlerOptions) =>
  HttpApiBuilder.group(KvApi, "atomic", (handlers) =>
    Effect.map(KV, (kv) => {
      const budgeted = withinBudget(options.maxBodyBytesInFlight, options.maxBodyBytes, options.requestTimeout)
      // Raw, as a put: the body is read within the same limits, and its numbers checked as JSON text.
      return handlers.handleRaw("write", ({ path, request }) =>
        budgeted(
          request,
          Effect.flatMap(readValue(request, options.maxBodyBytes), atomicWrite)
        ).pipe(
          Effect.flatMap((write) => Effect.mapError(kv.atomic(path.store, write), fromKV)),
          Effect.map((version) => ({ version }))
        ))
    }))

/**
 * Every endpoint of {@link KvApi}, on the `KV` in context; the groups that need a token need
 * `Authorization`. `maxBodyBytes` bounds one body, `maxBodyBytesInFlight` the large bodies
 * being read and parsed at once, `requestTimeout` how long a large body waits for its turn.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: HandlerOptions) =>
  Layer.mergeAll(
    health,
    metrics,
    stores,
    keys(options),
    atomic(options),
    Entries.layer,
    Watch.layer({ closing: options.closing ?? Effect.never })
  )
