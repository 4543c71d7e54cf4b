/**
 * The HTTP API of effect-kv, declared once: the server, the OpenAPI document and the typed client
 * are all built from {@link KvApi}.
 *
 * | method and path | success |
 * | --- | --- |
 * | `GET /health` | 200 `{"status":"ok"}` |
 * | `GET /stores` | 200 `{"stores":[...]}` |
 * | `DELETE /stores/{store}` | 204 |
 * | `GET /stores/{store}/keys?prefix=&after=&limit=` | 200 `{"keys":[...],"next":cursor or null}` |
 * | `GET /stores/{store}/keys/{key}` | 200, the value as the body, `ETag: "<version>"` |
 * | `PUT /stores/{store}/keys/{key}` | 200 `{"version":n}`; `If-Match: "<v>"`, `If-None-Match: *` |
 * | `DELETE /stores/{store}/keys/{key}` | 204; `If-Match: "<v>"` |
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { Authorization } from "./Auth.js"
import {
  BadRequest,
  BadRequestResponse,
  NotFoundResponse,
  PayloadTooLargeResponse,
  PreconditionFailedResponse,
  ServiceUnavailableResponse,
  UnsupportedMediaTypeResponse
} from "./Errors.js"

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

/** An entity tag `"<version>"`, as `ETag` sends it and `If-Match` takes it back. */
export const VersionTag = Schema.transformOrFail(Schema.String, Schema.NonNegativeInt, {
  strict: true,
  decode: (tag, _, ast) => {
    const match = /^"(\d{1,15})"$/.exec(tag.trim())
    return match === null
      ? ParseResult.fail(new ParseResult.Type(ast, tag, `expected an ETag such as "3" (with the quotes), got ${tag}`))
      : ParseResult.succeed(Number(match[1]))
  },
  encode: (version) => ParseResult.succeed(`"${version}"`)
}).annotations({ description: "a version as an entity tag: a number in double quotes, as in \"3\"" })

const Conditions = Schema.Struct({
  "if-match": Schema.optionalWith(VersionTag, { exact: true }),
  "if-none-match": Schema.optionalWith(Schema.Literal("*"), { exact: true })
})

/** `GET /health`: answers while the server runs; needs no token. */
export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("check", "/health").addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
) {}

/** The stores. */
export class StoresGroup extends HttpApiGroup.make("stores").add(
  HttpApiEndpoint.get("list", "/stores")
    .addSuccess(Schema.Struct({ stores: Schema.Array(Schema.String) }))
    .addError(ServiceUnavailableResponse)
).add(
  HttpApiEndpoint.del("drop", "/stores/:store")
    .setPath(StorePath)
    .addError(ServiceUnavailableResponse)
    .annotate(OpenApi.Description, "Stops the store and deletes its data.")
).middleware(Authorization) {}

/** The keys of a store. */
export class KeysGroup extends HttpApiGroup.make("keys").add(
  HttpApiEndpoint.get("list", "/stores/:store/keys")
    .setPath(StorePath)
    .setUrlParams(Schema.Struct({
      prefix: Schema.optionalWith(Schema.String, { exact: true }),
      after: Schema.optionalWith(Schema.String, { exact: true }),
      limit: Schema.optionalWith(Schema.NumberFromString, { exact: true })
    }))
    .addSuccess(Schema.Struct({ keys: Schema.Array(Schema.String), next: Schema.OptionFromNullOr(Schema.String) }))
    .addError(ServiceUnavailableResponse)
    .annotate(
      OpenApi.Description,
      "One page of keys, sorted; pass `next` as `after` for the next page. `limit` is 1 to 1000, default 100."
    )
).add(
  HttpApiEndpoint.get("get", "/stores/:store/keys/:key")
    .setPath(KeyPath)
    .addSuccess(Schema.Unknown.annotations({ description: "the value, as it was put" }))
    .addError(NotFoundResponse)
    .addError(ServiceUnavailableResponse)
    .annotate(OpenApi.Description, "The value as the body, its version in the `ETag` header.")
).add(
  HttpApiEndpoint.put("put", "/stores/:store/keys/:key")
    .setPath(KeyPath)
    .setHeaders(Conditions)
    .setPayload(Schema.Unknown.annotations({ description: "any JSON value" }))
    .addSuccess(Schema.Struct({ version: Schema.Number }))
    .addError(PreconditionFailedResponse)
    .addError(PayloadTooLargeResponse)
    .addError(UnsupportedMediaTypeResponse)
    .addError(ServiceUnavailableResponse)
    .annotate(
      OpenApi.Description,
      "Sets the key to the JSON body. `If-Match: \"<version>\"` writes only over that version, " +
        "`If-None-Match: *` only if the key is absent; else 412."
    )
).add(
  HttpApiEndpoint.del("delete", "/stores/:store/keys/:key")
    .setPath(KeyPath)
    .setHeaders(Conditions.pick("if-match"))
    .addError(NotFoundResponse)
    .addError(PreconditionFailedResponse)
    .addError(ServiceUnavailableResponse)
).middleware(Authorization) {}

const badRequest = { $ref: `#/components/schemas/${BadRequest.name}` }

/**
 * The platform documents its decoding failure as a 400 of its own; ours reach clients as
 * `BadRequest` (see `Middleware.routeErrors`), so the document says that instead.
 */
const documentDecodeFailuresAsBadRequest = (spec: Record<string, unknown>): Record<string, unknown> => {
  const json = JSON.stringify(spec, (key, value: unknown) => {
    if (key !== "400" || typeof value !== "object" || value === null) return value
    return { ...value, description: BadRequestResponse.ast.annotations[AST.DescriptionAnnotationId], content: { "application/json": { schema: badRequest } } }
  })
  const document = JSON.parse(json) as { components?: { schemas?: Record<string, unknown> } }
  for (const unused of ["HttpApiDecodeError", "Issue", "PropertyKey"]) delete document.components?.schemas?.[unused]
  return document
}

/** The whole API. Every endpoint can answer 400 with `{ error, message }`. */
export class KvApi extends HttpApi.make("effect-kv")
  .add(HealthGroup)
  .add(StoresGroup)
  .add(KeysGroup)
  .addError(BadRequestResponse)
  .annotate(OpenApi.Title, "effect-kv")
  .annotate(OpenApi.Description, "Durable named key-value stores. Values are any JSON.")
  .annotate(OpenApi.Transform, documentDecodeFailuresAsBadRequest)
{}
