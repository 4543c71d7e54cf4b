/**
 * The errors of the HTTP API, one per status, and how the store's errors become them.
 *
 * Every error response has the body `{ "error": "<Tag>", "message": "<what to do>" }`: `error` is
 * the tag of the failure that caused it (`InvalidName`, `VersionMismatch`, `Overloaded`, ...), so
 * a program can branch on it, and `message` says what to fix.
 *
 * @since 0.1.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import type {
  AtomicCheckFailed,
  AtomicTooLarge,
  HistoryCompacted,
  InvalidKey,
  InvalidName,
  InvalidQuery,
  InvalidTtl,
  InvalidValue,
  NotANumber,
  TooManyOperations,
  ValueTooLarge,
  VersionMismatch
} from "../kv/Errors.js"
import type { AtomicError, ReadError, StoreError, SubscribeError, WriteError } from "../kv/KV.js"

const fields = { error: Schema.String, message: Schema.String }

/**
 * The body of every error response.
 *
 * @since 0.1.0
 * @category models
 */
export const ErrorBody = Schema.Struct(fields).annotations({ identifier: "ErrorBody" })

/**
 * 400: a bad store name, key, query, header, path or JSON body.
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields) {}

/**
 * 401: a token is configured and the request did not carry it.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields) {}

/**
 * 404: no such key, or no such route.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}

/**
 * 410: a watch asked for changes that are no longer held (`HistoryCompacted`).
 *
 * @since 0.2.0
 * @category errors
 */
export class Gone extends Schema.TaggedError<Gone>()("Gone", fields) {}

/**
 * 412: an `If-Match` or `If-None-Match` condition failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class PreconditionFailed extends Schema.TaggedError<PreconditionFailed>()("PreconditionFailed", fields) {}

/**
 * One check of an atomic write that failed: the version it expected and the one the key is at
 * (`null`: absent).
 *
 * @since 0.2.0
 * @category models
 */
export const FailedCheck = Schema.Struct({
  key: Schema.String,
  expected: Schema.NullOr(Schema.Number),
  actual: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "FailedCheck" })

/**
 * 412 of an atomic write: its checks failed (`AtomicCheckFailed`), each one listed in `failed`;
 * nothing was applied.
 *
 * @since 0.2.0
 * @category errors
 */
export class ChecksFailed extends Schema.TaggedError<ChecksFailed>()("ChecksFailed", {
  ...fields,
  failed: Schema.Array(FailedCheck)
}) {}

/**
 * 409: the write does not fit what the key holds: an increment of a value that is not a number
 * (`NotANumber`).
 *
 * @since 0.2.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields) {}

/**
 * 413: the body or the value is over its limit.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", fields) {}

/**
 * 415: the body is neither JSON nor plain text.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", fields) {}

/**
 * 503: the store is overloaded, stopped or cannot reach its log; retry after `Retry-After` seconds.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", fields) {}

/**
 * 504: a write reached its store but its answer did not come (`OutcomeUnknown`): read the key
 * before retrying.
 *
 * @since 0.2.0
 * @category errors
 */
export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>()("GatewayTimeout", fields) {}

/**
 * 507: the disk is full (`DiskFull`); reads go on, retry writes after `Retry-After` seconds.
 *
 * @since 0.2.0
 * @category errors
 */
export class InsufficientStorage extends Schema.TaggedError<InsufficientStorage>()("InsufficientStorage", fields) {}

/**
 * The response schema of an error class. The class's `_tag` stays out of the body, which holds
 * only `{ error, message }`: the server encodes with it and the typed client decodes with it.
 */
const response = <Self extends typeof ErrorBody.Type>(
  self: new(props: typeof ErrorBody.Type) => Self,
  status: number,
  description: string
) =>
  Schema.transform(ErrorBody, Schema.instanceOf(self), {
    strict: true,
    decode: (body) => new self(body),
    encode: (error) => ({ error: error.error, message: error.message })
  }).annotations({ ...HttpApiSchema.annotations({ status }), identifier: self.name, description })

/**
 * The 400 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BadRequestResponse = response(
  BadRequest,
  400,
  "A bad store name or key, query, header, path, value or JSON body"
)

/**
 * The 401 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UnauthorizedResponse = response(Unauthorized, 401, "The server wants `Authorization: Bearer <token>`")

/**
 * The 404 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NotFoundResponse = response(NotFound, 404, "No such key")

/**
 * The 410 response, for a watch whose history is gone.
 *
 * @since 0.2.0
 * @category schemas
 */
export const GoneResponse = response(
  Gone,
  410,
  "The changes after the version asked for are no longer held; read the store again and watch from its version"
)

/**
 * The 412 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PreconditionFailedResponse = response(
  PreconditionFailed,
  412,
  "An `If-Match` or `If-None-Match` condition failed"
)

/**
 * The 412 response of an atomic write, with the failed checks.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ChecksFailedResponse = Schema.transform(
  Schema.Struct({ ...fields, failed: Schema.Array(FailedCheck) }).annotations({ identifier: "ChecksFailedBody" }),
  Schema.instanceOf(ChecksFailed),
  {
    strict: true,
    decode: (body) => new ChecksFailed(body),
    encode: (error) => ({ error: error.error, message: error.message, failed: error.failed })
  }
).annotations({
  ...HttpApiSchema.annotations({ status: 412 }),
  identifier: ChecksFailed.name,
  description: "Checks of the atomic write failed (`AtomicCheckFailed`), each listed in `failed`; nothing was applied"
})

/**
 * The 409 response, as endpoints declare it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ConflictResponse = response(
  Conflict,
  409,
  "An increment met a value that is not a number (`NotANumber`); nothing was applied"
)

/**
 * The 413 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PayloadTooLargeResponse = response(PayloadTooLarge, 413, "The body or the value is over its limit")

/**
 * The 415 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UnsupportedMediaTypeResponse = response(
  UnsupportedMediaType,
  415,
  "The body is neither JSON nor plain text"
)

/**
 * The 503 response, as endpoints declare it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServiceUnavailableResponse = response(
  ServiceUnavailable,
  503,
  "The store is overloaded, stopped or cannot reach its log; retry after `Retry-After` seconds"
)

/**
 * The 504 response, for the writes that can end with an unknown outcome.
 *
 * @since 0.2.0
 * @category schemas
 */
export const GatewayTimeoutResponse = response(
  GatewayTimeout,
  504,
  "The write reached its store but its outcome is unknown; read the key before retrying"
)

/**
 * The 507 response, for the writes that a full disk refuses.
 *
 * @since 0.2.0
 * @category schemas
 */
export const InsufficientStorageResponse = response(
  InsufficientStorage,
  507,
  "The disk is full; reads go on, retry writes after `Retry-After` seconds"
)

/**
 * Any error of the API.
 *
 * @since 0.1.0
 * @category models
 */
export type HttpError =
  | BadRequest
  | Unauthorized
  | NotFound
  | Gone
  | PreconditionFailed
  | ChecksFailed
  | Conflict
  | PayloadTooLarge
  | UnsupportedMediaType
  | ServiceUnavailable
  | GatewayTimeout
  | InsufficientStorage

/**
 * A failure of the `KV` service.
 *
 * @since 0.1.0
 * @category models
 */
export type KVError = WriteError | ReadError | StoreError | InvalidQuery | AtomicError | SubscribeError

/**
 * The HTTP error that a `KV` failure `E` becomes; the rest are the store being unavailable.
 * `OutcomeUnknown` and `DiskFull` are matched by tag, so that they map as soon as `KV` has them.
 *
 * @since 0.1.0
 * @category models
 */
export type FromKV<E extends { readonly _tag: string }> = E extends
  InvalidName | InvalidKey | InvalidValue | InvalidQuery | InvalidTtl | TooManyOperations ? BadRequest
  : E extends ValueTooLarge | AtomicTooLarge ? PayloadTooLarge
  : E extends HistoryCompacted ? Gone
  : E extends VersionMismatch ? PreconditionFailed
  : E extends AtomicCheckFailed ? ChecksFailed
  : E extends NotANumber ? Conflict
  : E extends { readonly _tag: "OutcomeUnknown" } ? GatewayTimeout
  : E extends { readonly _tag: "DiskFull" } ? InsufficientStorage
  : ServiceUnavailable

/**
 * The HTTP error for a failure of the `KV` service: 400, 409, 410, 412, 413, 503, and 504 and 507 once
 * `KV` has `OutcomeUnknown` and `DiskFull`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKV = <E extends KVError>(error: E): FromKV<E> => {
  // The switch below follows `FromKV`; TypeScript cannot narrow a conditional type through it.
  return fromKVError(error) as FromKV<E>
}

const fromKVError = (error: { readonly _tag: string; readonly message: string }): HttpError => {
  const body = { error: error._tag, message: error.message }
  switch (error._tag) {
    case "InvalidName":
    case "InvalidKey":
    case "InvalidValue":
    case "InvalidQuery":
    case "InvalidTtl":
    case "TooManyOperations":
      return new BadRequest(body)
    case "ValueTooLarge":
    case "AtomicTooLarge":
      return new PayloadTooLarge(body)
    case "HistoryCompacted":
      return new Gone(body)
    case "VersionMismatch":
      return new PreconditionFailed(body)
    case "AtomicCheckFailed":
      return new ChecksFailed({ ...body, failed: (error as AtomicCheckFailed).failed })
    case "NotANumber":
      return new Conflict(body)
    case "OutcomeUnknown":
      return new GatewayTimeout(body)
    case "DiskFull":
      return new InsufficientStorage(body)
    default:
      // Overloaded, ServerStopped, CallTimeout, StoreFailed and the storage failures.
      return new ServiceUnavailable(body)
  }
}

const responses = [
  BadRequestResponse,
  UnauthorizedResponse,
  NotFoundResponse,
  GoneResponse,
  PreconditionFailedResponse,
  ChecksFailedResponse,
  ConflictResponse,
  PayloadTooLargeResponse,
  UnsupportedMediaTypeResponse,
  ServiceUnavailableResponse,
  GatewayTimeoutResponse,
  InsufficientStorageResponse
]

// Read from the response schemas, so that the statuses are declared in one place.
const statuses: Record<string, number> = Object.fromEntries(responses.map((schema) => [
  Option.getOrThrow(AST.getIdentifierAnnotation(schema.ast)),
  HttpApiSchema.getStatusErrorAST(schema.ast)
]))

/**
 * The status that the API declares for `error`.
 *
 * @since 0.2.0
 * @category getters
 */
export const statusOf = (error: HttpError): number => statuses[error._tag]!

/**
 * The 404 of a key that is not in its store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const keyNotFound = (store: string, key: string): NotFound =>
  new NotFound({
    error: "NotFound",
    message: `key ${JSON.stringify(key.slice(0, 200))} is not in store "${store}"; list the keys with GET /stores/${store}/keys`
  })

/**
 * An error response built outside an endpoint, for what the router answers itself (404, 405, a
 * path that is not UTF-8), where no endpoint's error schema applies.
 *
 * @since 0.1.0
 * @category constructors
 */
export const respond = (
  status: number,
  body: typeof ErrorBody.Type,
  headers: Record<string, string> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(ErrorBody.make(body), { status, headers })
