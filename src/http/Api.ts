/**
 * The HTTP API of effect-kv, declared once: the server, the OpenAPI document and the typed client
 * are all built from {@link KvApi}.
 *
 * | method and path | success |
 * | --- | --- |
 * | `GET /health` | 200 `{"status":"ok"}` |
 * | `GET /metrics` | 200, the metrics in Prometheus's text format |
 * | `GET /stores` | 200 `{"stores":[...]}` |
 * | `GET /stores/{store}` | 200 `{"size":n,"version":n}` |
 * | `DELETE /stores/{store}` | 204 |
 * | `POST /stores/{store}/restart` | 204 |
 * | `GET /stores/{store}/keys?prefix=&after=&limit=` | 200 `{"keys":[...],"next":cursor or null}` |
 * | `GET /stores/{store}/keys/{key}` | 200, the value as the body, `ETag: "<version>"`, `KV-Expires-At` if it expires; 304 for `If-None-Match` |
 * | `PUT /stores/{store}/keys/{key}?ttl=SECONDS` | 200 `{"version":n}`; `If-Match: "<v>"`, `If-None-Match: *` or `"<v>"` |
 * | `DELETE /stores/{store}/keys/{key}` | 204; `If-Match: "<v>"` |
 * | `PUT /stores/{store}/keys/{key}/ttl` | 200 `{"version":n}`: body `{"ttl":seconds}` sets the key's expiry |
 * | `DELETE /stores/{store}/keys/{key}/ttl` | 200 `{"version":n}`: removes the key's expiry |
 * | `POST /stores/{store}/atomic` | 200 `{"version":n}`: checks and operations, all or nothing |
 * | `GET /stores/{store}/entries?prefix=&after=&limit=` | 200 `{"entries":[...],"next":cursor or null,"version":n}` |
 * | `GET /stores/{store}/export` | 200 JSON lines `{"key","value"}`, key order, `KV-Version: <n>` |
 * | `GET /stores/{store}/watch?prefix=&since=` | 200 `text/event-stream`, one event per version; `Last-Event-ID` |
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { Authorization, MetricsAuthorization } from "./Auth.js"
import {
  BadRequest,
  BadRequestResponse,
  ChecksFailedResponse,
  ConflictResponse,
  GatewayTimeoutResponse,
  GoneResponse,
  InsufficientStorageResponse,
  NotFoundResponse,
  PayloadTooLargeResponse,
  PreconditionFailedResponse,
  ServiceUnavailableResponse,
  UnsupportedMediaTypeResponse
} from "./Errors.js"

/**
 * The package's version, as the OpenAPI document and `effect-kv --version` give it.
 *
 * @since 0.2.0
 * @category constructors
 */
export const version = "0.1.0"

/**
 * A store name or key as a path segment. The router hands the server segments already
 * percent-decoded, while the client pastes them into the URL as they are: only encoding
 * percent-encodes, so any key survives the trip.
 */
const Segment = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: (segment) => segment,
  encode: (text) => encodeURIComponent(text)
})

const StorePath = Schema.Struct({ store: Segment })
const KeyPath = Schema.Struct({ store: Segment, key: Segment })

/**
 * Why a precondition header's value is not one, in a sentence that says what to send instead.
 * `If-Match` compares strongly, so a weak tag (`W/"5"`) is refused; `If-None-Match` compares
 * weakly and also takes `*`.
 */
const tagProblem = (header: "If-Match" | "If-None-Match", tag: string): string => {
  const expected = `send a version as ETag gives it, a number in double quotes such as "5"${
    header === "If-None-Match" ? ", or *" : ""
  }`
  const shown = JSON.stringify(tag.slice(0, 60))
  if (header === "If-Match" && tag.startsWith("W/")) return `${header}: a weak entity tag (${shown}) cannot guard a write; ${expected}`
  if (tag.includes(",")) return `${header}: send one version, not a list; ${expected}`
  return `${header}: ${expected}; got ${shown}`
}

const strongTag = /^"(\d{1,15})"$/
const anyTag = /^(?:W\/)?"(\d{1,15})"$/

/**
 * An entity tag `"<version>"`, as `ETag` sends it and `If-Match` takes it back.
 *
 * @since 0.1.0
 * @category models
 */
export const VersionTag = Schema.transformOrFail(Schema.String, Schema.NonNegativeInt, {
  strict: true,
  decode: (tag, _, ast) => {
    const match = strongTag.exec(tag.trim())
    return match === null
      ? ParseResult.fail(new ParseResult.Type(ast, tag, tagProblem("If-Match", tag.trim())))
      : ParseResult.succeed(Number(match[1]))
  },
  encode: (version) => ParseResult.succeed(`"${version}"`)
}).annotations({ description: "a version as an entity tag: a number in double quotes, as in \"3\"" })

/**
 * `If-None-Match`: `*` (the key must be absent) or a version (the key must not be at it); a
 * weak tag (`W/"3"`) names the same version.
 *
 * @since 0.2.0
 * @category models
 */
export const NoneMatchTag = Schema.transformOrFail(Schema.String, Schema.Union(Schema.Literal("*"), Schema.NonNegativeInt), {
  strict: true,
  decode: (given, _, ast) => {
    const tag = given.trim()
    if (tag === "*") return ParseResult.succeed("*" as const)
    const match = anyTag.exec(tag)
    return match === null
      ? ParseResult.fail(new ParseResult.Type(ast, given, tagProblem("If-None-Match", tag)))
      : ParseResult.succeed(Number(match[1]))
  },
  encode: (version) => ParseResult.succeed(version === "*" ? "*" : `"${version}"`)
}).annotations({ description: "* or a version as an entity tag: a number in double quotes, as in \"3\"" })

/** A query parameter given once: a repeated one arrives as a list. */
const once = (name: string) =>
  Schema.String.annotations({ message: () => `${name}: give it once` })

/** `?limit=`: a whole number; its range is the store's to check, with a sentence of its own. */
const Limit = Schema.transformOrFail(once("limit"), Schema.Number, {
  strict: true,
  decode: (given, _, ast) =>
    /^\d{1,15}$/.test(given)
      ? ParseResult.succeed(Number(given))
      : ParseResult.fail(
        new ParseResult.Type(ast, given, `limit: send a whole number from 1 to 1000, as in ?limit=100; got ${JSON.stringify(given.slice(0, 60))}`)
      ),
  encode: (limit) => ParseResult.succeed(String(limit))
}).annotations({ description: "page size, 1 to 1000" })

const ttlProblem = (given: string) =>
  `ttl: send the seconds until the key expires, a number above 0 such as 30 or 0.5; got ${JSON.stringify(given.slice(0, 60))}`

/**
 * `?ttl=`: seconds until the key expires, a positive decimal number.
 *
 * @since 0.2.0
 * @category models
 */
export const TtlParam = Schema.transformOrFail(once("ttl"), Schema.Number, {
  strict: true,
  decode: (given, _, ast) =>
    /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(given) && Number(given) > 0
      ? ParseResult.succeed(Number(given))
      : ParseResult.fail(new ParseResult.Type(ast, given, ttlProblem(given))),
  encode: (seconds) => ParseResult.succeed(String(seconds))
}).annotations({ description: "seconds until the key expires: a number above 0, decimals allowed" })

/**
 * Seconds until a key expires, in a JSON body: a number above 0.
 *
 * @since 0.2.0
 * @category models
 */
export const TtlSeconds = Schema.Number.pipe(
  Schema.filter((seconds) => Number.isFinite(seconds) && seconds > 0 || ttlProblem(String(seconds)))
).annotations({ description: "seconds until the key expires: a number above 0, decimals allowed", message: () => "ttl: send a number of seconds above 0, such as 30 or 0.5" })

/**
 * The body of `POST /stores/{store}/atomic`: checks (a key at a version, or absent: `null`), then
 * operations applied in order.
 *
 * @since 0.2.0
 * @category models
 */
export const AtomicBody = Schema.Struct({
  checks: Schema.optionalWith(
    Schema.Array(Schema.Struct({
      key: Schema.String,
      version: Schema.NullOr(Schema.NonNegativeInt).annotations({
        description: "the version the key must be at, or null: the key must be absent",
        message: () => ({
          message: "send the version the key must be at (a whole number, as ETag gives it), or null for absent",
          override: true
        })
      })
    })),
    { exact: true }
  ),
  ops: Schema.Array(Schema.Union(
    Schema.Struct({
      op: Schema.Literal("put"),
      key: Schema.String,
      // JSON has no undefined: a value that is undefined was left out.
      value: Schema.Unknown.pipe(Schema.filter((value) => value !== undefined || "is missing: a put needs the value, any JSON"))
        .annotations({ description: "any JSON value" }),
      ttl: Schema.optionalWith(TtlSeconds, { exact: true })
    }),
    Schema.Struct({ op: Schema.Literal("delete"), key: Schema.String }),
    Schema.Struct({
      op: Schema.Literal("increment"),
      key: Schema.String,
      by: Schema.optionalWith(Schema.Number.annotations({ description: "added to the number, default 1" }), { exact: true })
    })
  ))
}).annotations({ identifier: "AtomicWrite", description: "checks, then operations applied in order, all or nothing" })

/** A version in a query or a header: a whole number, with a sentence of its own when it is not. */
const VersionText = (name: string, example: string) =>
  Schema.transformOrFail(once(name), Schema.Number, {
    strict: true,
    decode: (given, _, ast) =>
      /^\d{1,15}$/.test(given.trim())
        ? ParseResult.succeed(Number(given.trim()))
        : ParseResult.fail(
          new ParseResult.Type(ast, given, `${name}: send a version, a whole number as in ${example}; got ${JSON.stringify(given.slice(0, 60))}`)
        ),
    encode: (version) => ParseResult.succeed(String(version))
  }).annotations({ description: "a version of the store" })

const pageParams = Schema.Struct({
  prefix: Schema.optionalWith(once("prefix"), { exact: true }),
  after: Schema.optionalWith(once("after"), { exact: true }),
  limit: Schema.optionalWith(Limit, { exact: true })
})

const readConditions = Schema.Struct({
  "if-none-match": Schema.optionalWith(NoneMatchTag, { exact: true })
})

const putConditions = Schema.Struct({
  "if-match": Schema.optionalWith(VersionTag, { exact: true }),
  "if-none-match": Schema.optionalWith(NoneMatchTag, { exact: true })
})

const deleteConditions = Schema.Struct({
  "if-match": Schema.optionalWith(VersionTag, { exact: true })
})

/**
 * What `GET /stores/{store}` answers: the store's key count and version, read at one moment.
 *
 * @since 0.2.0
 * @category models
 */
export const StoreInfo = Schema.Struct({
  size: Schema.NonNegativeInt.annotations({ description: "how many keys the store holds" }),
  version: Schema.NonNegativeInt.annotations({
    description: "the version of the store's last change; every key's version is at most this"
  })
}).annotations({ identifier: "StoreInfo" })

/**
 * `GET /health`: answers while the server runs; needs no token.
 *
 * @since 0.1.0
 * @category groups
 */
export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("check", "/health")
    .addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
    .annotate(OpenApi.Summary, "Whether the server is up")
    .annotate(OpenApi.Description, "Answers 200 while the server runs. Needs no token.")
).annotate(OpenApi.Description, "Whether the server is up") {}

/**
 * `GET /metrics`: the metrics in Prometheus's text format; under the token unless the server
 * makes them public.
 *
 * @since 0.2.0
 * @category groups
 */
export class MetricsGroup extends HttpApiGroup.make("metrics").add(
  HttpApiEndpoint.get("scrape", "/metrics")
    .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
    .annotate(OpenApi.Summary, "Metrics for Prometheus")
    .annotate(
      OpenApi.Description,
      "Every metric of the server (operations, call latency, writer batches and fsyncs, open stores, mailbox depths, " +
        "restarts) in Prometheus's text exposition format 0.0.4. Needs the token unless the server was started with " +
        "--metrics-public."
    )
).middleware(MetricsAuthorization).annotate(OpenApi.Description, "Metrics for Prometheus") {}

/**
 * The stores: list, describe, drop, restart.
 *
 * @since 0.1.0
 * @category groups
 */
export class StoresGroup extends HttpApiGroup.make("stores").add(
  HttpApiEndpoint.get("list", "/stores")
    .addSuccess(Schema.Struct({ stores: Schema.Array(Schema.String) }))
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "List the stores")
    .annotate(OpenApi.Description, "The names of the stores that hold data, sorted.")
).add(
  HttpApiEndpoint.get("info", "/stores/:store")
    .setPath(StorePath)
    .addSuccess(StoreInfo)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "Describe a store")
    .annotate(
      OpenApi.Description,
      "How many keys the store holds (`size`) and its `version`, the version of its last change, read at one moment. " +
        "A store never written has size 0 and version 0."
    )
).add(
  HttpApiEndpoint.del("drop", "/stores/:store")
    .setPath(StorePath)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Drop a store")
    .annotate(
      OpenApi.Description,
      "Stops the store and deletes its data. 504 when that takes longer than the deadline: it goes on, and the " +
        "store is gone once `GET /stores` no longer lists it."
    )
).add(
  HttpApiEndpoint.post("restart", "/stores/:store/restart")
    .setPath(StorePath)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Restart a store")
    .annotate(
      OpenApi.Description,
      "Starts a store that failed (`StoreFailed`) again from its log. On a running store it changes nothing and also answers 204. " +
        "504 when it takes longer than the deadline to start: it goes on starting."
    )
).middleware(Authorization).annotate(OpenApi.Description, "Named stores: list, describe, drop and restart them") {}

/**
 * The keys of a store.
 *
 * @since 0.1.0
 * @category groups
 */
export class KeysGroup extends HttpApiGroup.make("keys").add(
  HttpApiEndpoint.get("list", "/stores/:store/keys")
    .setPath(StorePath)
    .setUrlParams(pageParams)
    .addSuccess(Schema.Struct({ keys: Schema.Array(Schema.String), next: Schema.OptionFromNullOr(Schema.String) }))
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "List keys")
    .annotate(
      OpenApi.Description,
      "One page of keys, sorted; pass `next` as `after` for the next page. `limit` is 1 to 1000, default 100."
    )
).add(
  HttpApiEndpoint.get("get", "/stores/:store/keys/:key")
    .setPath(KeyPath)
    .setHeaders(readConditions)
    .addSuccess(Schema.Unknown.annotations({ description: "the value, as it was put" }))
    .addError(NotFoundResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "Read a key")
    .annotate(
      OpenApi.Description,
      "The value as the body, its version in the `ETag` header, and if the key expires, when, in " +
        "`KV-Expires-At` (epoch milliseconds). With `If-None-Match: \"<version>\"` (or `*`) matching " +
        "the key, 304 and no body. A key past its expiry is absent (404)."
    )
).add(
  HttpApiEndpoint.put("put", "/stores/:store/keys/:key")
    .setPath(KeyPath)
    .setUrlParams(Schema.Struct({ ttl: Schema.optionalWith(TtlParam, { exact: true }) }))
    .setHeaders(putConditions)
    .setPayload(Schema.Unknown.annotations({ description: "any JSON value" }))
    .addSuccess(Schema.Struct({ version: Schema.Number }))
    .addError(PreconditionFailedResponse)
    .addError(PayloadTooLargeResponse)
    .addError(UnsupportedMediaTypeResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Write a key")
    .annotate(
      OpenApi.Description,
      "Sets the key to the body: JSON (`application/json`, or no `Content-Type`), or text " +
        "(`text/plain`, stored as a JSON string). `If-Match: \"<version>\"` writes only over that version, " +
        "`If-None-Match: *` only if the key is absent, `If-None-Match: \"<version>\"` only if the key is not at " +
        "that version; else 412. `?ttl=30` makes the key expire 30 seconds later; without it the key never expires."
    )
).add(
  HttpApiEndpoint.del("delete", "/stores/:store/keys/:key")
    .setPath(KeyPath)
    .setHeaders(deleteConditions)
    .addError(NotFoundResponse)
    .addError(PreconditionFailedResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Delete a key")
    .annotate(OpenApi.Description, "Removes the key; 404 if it is absent. `If-Match: \"<version>\"` deletes only that version.")
).add(
  HttpApiEndpoint.put("expire", "/stores/:store/keys/:key/ttl")
    .setPath(KeyPath)
    .setHeaders(deleteConditions)
    .setPayload(Schema.Struct({ ttl: TtlSeconds }))
    .addSuccess(Schema.Struct({ version: Schema.Number }))
    .addError(NotFoundResponse)
    .addError(PreconditionFailedResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Set a key's expiry")
    .annotate(
      OpenApi.Description,
      "Sets, moves or extends the key's expiry to `ttl` seconds from now, keeping its value (Redis `EXPIRE`); " +
        "the key's version moves on. 404 if it is absent; `If-Match: \"<version>\"` changes only that version."
    )
).add(
  HttpApiEndpoint.del("persist", "/stores/:store/keys/:key/ttl")
    .setPath(KeyPath)
    .setHeaders(deleteConditions)
    .addSuccess(Schema.Struct({ version: Schema.Number }))
    .addError(NotFoundResponse)
    .addError(PreconditionFailedResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Remove a key's expiry")
    .annotate(
      OpenApi.Description,
      "The key no longer expires; its value stays (Redis `PERSIST`) and its version moves on (it stays as it is " +
        "if the key had no expiry). 404 if it is absent; `If-Match: \"<version>\"` changes only that version."
    )
).middleware(Authorization).annotate(OpenApi.Description, "The keys of a store: read, write, delete, list") {}

/**
 * Atomic writes to one store.
 *
 * @since 0.2.0
 * @category groups
 */
export class AtomicGroup extends HttpApiGroup.make("atomic").add(
  HttpApiEndpoint.post("write", "/stores/:store/atomic")
    .setPath(StorePath)
    .setPayload(AtomicBody)
    .addSuccess(Schema.Struct({ version: Schema.Number }))
    .addError(ChecksFailedResponse)
    .addError(ConflictResponse)
    .addError(PayloadTooLargeResponse)
    .addError(UnsupportedMediaTypeResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .addError(GatewayTimeoutResponse)
    .annotate(OpenApi.Summary, "Write keys atomically")
    .annotate(
      OpenApi.Description,
      "Checks (`{\"key\",\"version\"}`, `null` for absent), then operations in order: `put` (with `ttl` in " +
        "seconds), `delete`, `increment` (`by`, default 1; an absent key counts as 0; the key keeps its expiry). " +
        "All or nothing, at one new version, which the answer gives. 412 names every failed check; 409 when an " +
        "increment meets a value that is not a number; at most 1,000 operations and 1,000 checks (400)."
    )
).middleware(Authorization).annotate(OpenApi.Description, "Atomic writes: checks and operations on one store, all or nothing") {}

/**
 * One entry of a page of `GET /stores/{store}/entries`.
 *
 * @since 0.2.0
 * @category models
 */
export const EntryJson = Schema.Struct({
  key: Schema.String,
  value: Schema.Unknown,
  version: Schema.Number,
  expiresAt: Schema.optionalWith(Schema.Number.annotations({ description: "epoch milliseconds after which the key is gone" }), {
    exact: true
  })
}).annotations({ identifier: "Entry" })

/**
 * Values with their keys: a page at a time, with the version to watch from, or the whole store
 * at one version.
 *
 * @since 0.2.0
 * @category groups
 */
export class EntriesGroup extends HttpApiGroup.make("entries").add(
  HttpApiEndpoint.get("list", "/stores/:store/entries")
    .setPath(StorePath)
    .setUrlParams(pageParams)
    .addSuccess(Schema.Struct({
      entries: Schema.Array(EntryJson),
      next: Schema.OptionFromNullOr(Schema.String),
      version: Schema.Number
    }))
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "List entries, with the version to watch from")
    .annotate(
      OpenApi.Description,
      "One page of entries (key, value, version, and `expiresAt` when the key expires), sorted by key, paged as " +
        "`keys` is; `version` is the store's version when the page was read: watch with `since` set to it " +
        "to follow on without a gap."
    )
).add(
  HttpApiEndpoint.get("export", "/stores/:store/export")
    .setPath(StorePath)
    .addSuccess(HttpApiSchema.Text({ contentType: "application/x-ndjson" }).annotations({
      description: "one JSON object a line, {\"key\",\"value\"} and \"expiresAt\" when set, in key order"
    }))
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "Export a store")
    .annotate(
      OpenApi.Description,
      "Every entry of the store as JSON lines, in key order, all as of one version, which the `KV-Version` " +
        "header gives: a backup while the server runs. Writes go on meanwhile."
    )
).middleware(Authorization).annotate(OpenApi.Description, "Values with their keys, and backups") {}

/**
 * What `GET /stores/{store}/watch` sends: see {@link WatchGroup}.
 */
const watchDescription = [
  "Every acknowledged change of the store (of the keys that start with `prefix`, and every clear), in version",
  "order, as Server-Sent Events. Each version is one event: `id:` the version, `event:` `put`, `delete`, `clear`,",
  "`expire`, `touch` or `atomic`, `data:` a JSON object: `{\"key\",\"value\",\"version\"}` for a put (and",
  "`expiresAt` when it has one), `{\"key\",\"version\"}` for a delete or an expiry, `{\"version\"}` for a clear,",
  "`{\"key\",\"version\",\"expiresAt\"}` for a touch (`null`: no expiry), `{\"version\",\"changes\":[{\"op\":\"put\",",
  "\"key\",\"value\"},{\"op\":\"delete\",\"key\"}]}` for an atomic write. Expiry times are epoch milliseconds.",
  "With `since` (or the `Last-Event-ID` header, which wins) the changes after that version come first. The stream",
  "opens with `id: <version>`, the version it starts after, and sends a comment every 15 seconds. A watcher that",
  "falls too far behind gets an `error` event, `{\"error\":\"WatchLagged\",\"message\"}`, and the end of the",
  "stream: reconnect with the last id. 410 when the changes after `since` are no longer held."
].join(" ")

/**
 * The change feed of a store, as Server-Sent Events.
 *
 * @since 0.2.0
 * @category groups
 */
export class WatchGroup extends HttpApiGroup.make("watch").add(
  HttpApiEndpoint.get("watch", "/stores/:store/watch")
    .setPath(StorePath)
    .setUrlParams(Schema.Struct({
      prefix: Schema.optionalWith(once("prefix"), { exact: true }),
      since: Schema.optionalWith(VersionText("since", "?since=42"), { exact: true })
    }))
    .setHeaders(Schema.Struct({
      "last-event-id": Schema.optionalWith(VersionText("Last-Event-ID", "Last-Event-ID: 42"), { exact: true })
    }))
    .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }).annotations({
      description: "Server-Sent Events, one per version"
    }))
    .addError(GoneResponse)
    .addError(ServiceUnavailableResponse)
    .addError(InsufficientStorageResponse)
    .annotate(OpenApi.Summary, "Watch a store's changes")
    .annotate(OpenApi.Description, watchDescription)
).middleware(Authorization).annotate(OpenApi.Description, "The change feed of a store, resumable by version") {}

const badRequest = { $ref: `#/components/schemas/${BadRequest.name}` }

const header = (description: string, example?: string) => ({
  description,
  schema: { type: "string", ...(example === undefined ? {} : { example }) }
})

/** Response headers the declaration cannot carry, per status, and the 304 of a read. */
const documentHeaders = (document: {
  paths: Record<string, Record<string, { responses?: Record<string, Record<string, unknown>> }>>
}) => {
  const etag = header("the key's version, as an entity tag", "\"3\"")
  const expiresAt = header("when the key expires, in epoch milliseconds; absent if it does not", "1764512345678")
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations)) {
      const responses = operation.responses ?? {}
      for (const status of ["503", "507"]) {
        const response = responses[status]
        if (response !== undefined) response["headers"] = { "Retry-After": header("seconds to wait before retrying", "1") }
      }
      if (responses["401"] !== undefined) responses["401"]["headers"] = { "WWW-Authenticate": header("always Bearer") }
    }
  }
  const exported = document.paths["/stores/{store}/export"]?.["get"]
  if (exported?.responses?.["200"] !== undefined) {
    exported.responses["200"]["headers"] = { "KV-Version": header("the store's version that the export is a copy of", "42") }
  }
  const read = document.paths["/stores/{store}/keys/{key}"]?.["get"]
  if (read?.responses !== undefined) {
    read.responses["200"] = { ...read.responses["200"], headers: { ETag: etag, "KV-Expires-At": expiresAt } }
    read.responses["304"] = {
      description: "Not Modified: the key is at the version that If-None-Match names",
      headers: { ETag: etag, "KV-Expires-At": expiresAt }
    }
  }
}

/**
 * The platform documents its decoding failure as a 400 of its own; ours reach clients as
 * `BadRequest` (see `Middleware.routeErrors`), so the document says that instead.
 */
const documentDecodeFailuresAsBadRequest = (spec: Record<string, unknown>): Record<string, unknown> => {
  const json = JSON.stringify(spec, (key, value: unknown) => {
    if (key !== "400" || typeof value !== "object" || value === null) return value
    return { ...value, description: BadRequestResponse.ast.annotations[AST.DescriptionAnnotationId], content: { "application/json": { schema: badRequest } } }
  })
  const document = JSON.parse(json) as Parameters<typeof documentHeaders>[0] & { components?: { schemas?: Record<string, unknown> } }
  for (const unused of ["HttpApiDecodeError", "Issue", "PropertyKey"]) delete document.components?.schemas?.[unused]
  documentHeaders(document)
  return document
}

/**
 * The whole API. Every endpoint can answer 400 with `{ error, message }`.
 *
 * @since 0.1.0
 * @category api
 */
export class KvApi extends HttpApi.make("effect-kv")
  .add(HealthGroup)
  .add(MetricsGroup)
  .add(StoresGroup)
  .add(KeysGroup)
  .add(AtomicGroup)
  .add(EntriesGroup)
  .add(WatchGroup)
  .addError(BadRequestResponse)
  .annotate(OpenApi.Title, "effect-kv")
  .annotate(OpenApi.Version, version)
  .annotate(OpenApi.Description, "Durable named key-value stores. Values are any JSON.")
  .annotate(OpenApi.License, { name: "MIT", url: "https://opensource.org/license/mit" })
  // Relative: the document is right wherever the server that serves it listens.
  .annotate(OpenApi.Servers, [{ url: "/", description: "the server that serves this document" }])
  .annotate(OpenApi.Transform, documentDecodeFailuresAsBadRequest)
{}
