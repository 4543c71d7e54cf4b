/**
 * How the client commands talk to a running server: one `ServerClient` service, built from the
 * `--url` and `--token` options, that turns each call into a request and each error answer into
 * a `RequestFailed` carrying the server's own message.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { RequestFailed, ServerUnreachable } from "./Errors.js"

/** Why a call to the server failed. */
export type ClientError = ServerUnreachable | RequestFailed

/** A page of keys as the server sends it. */
export interface KeyPage {
  readonly keys: ReadonlyArray<string>
  readonly next: string | null
}

/** The server's operations, as the client commands use them. */
export class ServerClient extends Context.Tag("effect-kv/cli/ServerClient")<ServerClient, {
  readonly get: (store: string, key: string) => Effect.Effect<unknown, ClientError>
  /** Sends `json`, already checked to be JSON, as the key's value; returns the new version. */
  readonly put: (store: string, key: string, json: string) => Effect.Effect<number, ClientError>
  readonly delete: (store: string, key: string) => Effect.Effect<void, ClientError>
  readonly keys: (
    store: string,
    query: { readonly prefix: string; readonly after: string | null; readonly limit: number }
  ) => Effect.Effect<KeyPage, ClientError>
  readonly stores: Effect.Effect<ReadonlyArray<string>, ClientError>
}>() {}

/** Where the server is and how to authenticate, as the options give them. */
export interface Connection {
  readonly url: string
  readonly token: Option.Option<Redacted.Redacted<string>>
}

/** The `--url` and `--token` options every client command takes. */
export const connectionOptions = {
  url: Options.text("url").pipe(
    Options.withDescription("The server's base URL."),
    Options.withFallbackConfig(Config.string("KV_URL")),
    Options.withDefault("http://127.0.0.1:4000")
  ),
  token: Options.redacted("token").pipe(
    Options.withDescription("The bearer token the server was started with."),
    Options.withFallbackConfig(Config.redacted("KV_TOKEN")),
    Options.optional
  )
}

const ErrorBody = Schema.Struct({ error: Schema.String, message: Schema.String })
const Version = Schema.Struct({ version: Schema.Number })
const Page = Schema.Struct({ keys: Schema.Array(Schema.String), next: Schema.NullOr(Schema.String) })
const StoreNames = Schema.Struct({ stores: Schema.Array(Schema.String) })

// Dots too: a WHATWG URL would resolve a key "." or ".." as a path step.
const segment = (text: string) => encodeURIComponent(text).replace(/\./g, "%2E")
const keyPath = (store: string, key: string) => `/stores/${segment(store)}/keys/${segment(key)}`

/** Builds the client on a plain `HttpClient`. */
export const make = (connection: Connection): Effect.Effect<Context.Tag.Service<ServerClient>, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const base = connection.url.replace(/\/+$/, "")
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest((request) =>
        Option.match(connection.token, {
          onNone: () => HttpClientRequest.prependUrl(request, base),
          onSome: (token) => HttpClientRequest.bearerToken(HttpClientRequest.prependUrl(request, base), token)
        })
      )
    )

    // Sends the request; a 2xx answer goes to `onSuccess`, any other becomes `RequestFailed`.
    const send = <A>(
      request: HttpClientRequest.HttpClientRequest,
      onSuccess: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, RequestFailed>
    ): Effect.Effect<A, ClientError> =>
      client.execute(request).pipe(
        Effect.catchTag("RequestError", (error) =>
          Effect.fail(new ServerUnreachable({ url: base, reason: error.cause instanceof Error ? error.cause.message : error.reason }))),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300 ? onSuccess(response) : failure(response)
        ),
        Effect.catchTag("ResponseError", (error) =>
          Effect.fail(new RequestFailed({ status: error.response.status, error: "BadResponse", reason: error.message }))),
        Effect.scoped
      )

    const failure = (response: HttpClientResponse.HttpClientResponse) =>
      Effect.flatMap(
        decode(response, ErrorBody).pipe(
          Effect.orElseSucceed(() => ({ error: "HttpError", message: `the server answered ${response.status}` }))
        ),
        (body) => Effect.fail(new RequestFailed({ status: response.status, error: body.error, reason: body.message }))
      )

    const decode = <A, I>(response: HttpClientResponse.HttpClientResponse, schema: Schema.Schema<A, I>) =>
      Effect.flatMap(response.json, Schema.decodeUnknown(schema)).pipe(
        Effect.mapError((error) =>
          new RequestFailed({ status: response.status, error: "BadResponse", reason: `unexpected answer: ${error.message}` })
        )
      )

    return {
      get: (store, key) => send(HttpClientRequest.get(keyPath(store, key)), (response) => decode(response, Schema.Unknown)),
      put: (store, key, json) =>
        send(
          HttpClientRequest.put(keyPath(store, key)).pipe(HttpClientRequest.bodyText(json, "application/json")),
          (response) => Effect.map(decode(response, Version), (body) => body.version)
        ),
      delete: (store, key) => send(HttpClientRequest.del(keyPath(store, key)), () => Effect.void),
      keys: (store, query) =>
        send(
          HttpClientRequest.get(`/stores/${segment(store)}/keys`).pipe(
            HttpClientRequest.setUrlParams({
              prefix: query.prefix,
              limit: String(query.limit),
              ...(query.after === null ? {} : { after: query.after })
            })
          ),
          (response) => decode(response, Page)
        ),
      stores: send(HttpClientRequest.get("/stores"), (response) => Effect.map(decode(response, StoreNames), (body) => body.stores))
    }
  })

/** The client for `connection`, on Node's HTTP client. */
export const layer = (connection: Connection): Layer.Layer<ServerClient> =>
  Layer.effect(ServerClient, make(connection)).pipe(Layer.provide(NodeHttpClient.layer))
