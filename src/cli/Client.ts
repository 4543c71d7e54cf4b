/**
 * How the client commands talk to a running server: one `ServerClient` service, built from the
 * `--url` and `--token` options on Node's HTTP client, that turns each error answer into a
 * `RequestFailed` carrying the server's own message.
 *
 * It sends the API's requests itself rather than through the typed client of the declaration
 * (`http/Client.ts`, `HttpApiClient`): that client looks up `FormData` on every call, and Node
 * loads its whole `fetch` implementation (undici) on that first look, as long as Node's own start;
 * building the client of every endpoint (`HttpApiClient.make`) cost a fifth of the start too.
 * `effect-kv get` beside `node -e ''`, median of 9 interleaved rounds, cpu seconds of the process:
 * on the typed client of its one endpoint (`HttpApiClient.endpoint`) 0.18 s (3.6x); with its own
 * request 0.16 s (3.2x). The CLI's tests run every command against a real server, so the requests
 * stay the declaration's.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { AtomicBody } from "../http/Api.js"
import { ErrorBody } from "../http/Errors.js"
import type { KeyPage } from "../kv/Store.js"
import { RequestFailed, ServerUnreachable } from "./Errors.js"

/**
 * Why a call to the server failed.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientError = ServerUnreachable | RequestFailed

/**
 * The server's operations, as the client commands use them.
 *
 * @since 0.1.0
 * @category models
 */
export class ServerClient extends Context.Tag("effect-kv/cli/ServerClient")<ServerClient, {
  readonly get: (store: string, key: string) => Effect.Effect<unknown, ClientError>
  /** Sets the key to a JSON value, expiring after `ttl` seconds if given; returns the key's new version. */
  readonly put: (store: string, key: string, value: unknown, ttl?: number) => Effect.Effect<number, ClientError>
  readonly delete: (store: string, key: string) => Effect.Effect<void, ClientError>
  readonly keys: (
    store: string,
    query: { readonly prefix: string; readonly after: Option.Option<string>; readonly limit: number }
  ) => Effect.Effect<KeyPage, ClientError>
  readonly stores: Effect.Effect<ReadonlyArray<string>, ClientError>
  /** Starts a failed store again; changes nothing on a running one. */
  readonly restart: (store: string) => Effect.Effect<void, ClientError>
  /** Sets the key's expiry to `seconds` from now; returns the key's new version. */
  readonly expire: (store: string, key: string, seconds: number) => Effect.Effect<number, ClientError>
  /** Removes the key's expiry; returns the key's version. */
  readonly persist: (store: string, key: string) => Effect.Effect<number, ClientError>
  /** Applies an atomic write; returns its version. */
  readonly atomic: (store: string, write: typeof AtomicBody.Type) => Effect.Effect<number, ClientError>
}>() {}

/**
 * Where the server is and how to authenticate, as the options give them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  readonly url: string
  readonly token: Option.Option<Redacted.Redacted<string>>
}

/**
 * The `--url` and `--token` options every client command takes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectionOptions = {
  url: Options.text("url").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("The server's base URL. Default: http://127.0.0.1:4000. Environment: KV_URL."),
    Options.withFallbackConfig(Config.string("KV_URL")),
    Options.withDefault("http://127.0.0.1:4000")
  ),
  token: Options.redacted("token").pipe(
    Options.withPseudoName("TOKEN"),
    Options.withDescription("The token the server was started with, if any. Default: none. Environment: KV_TOKEN."),
    Options.withFallbackConfig(Config.redacted("KV_TOKEN")),
    Options.optional
  )
}

const tokenNeeded = "the server needs a token: pass --token <token> or set KV_TOKEN"

/** What a call was about, so that an answer can be told in the CLI's words. */
interface Target {
  readonly store?: string
  readonly key?: string
}

// The server's own messages speak HTTP (paths, headers) where a CLI user needs a command.
const inCliWords = (status: number, body: typeof ErrorBody.Type, target: Target): string => {
  switch (status) {
    case 404:
      return target.store !== undefined && target.key !== undefined
        ? `key ${JSON.stringify(target.key.slice(0, 200))} is not in store "${target.store}"; ` +
          `list its keys with: effect-kv keys ${target.store}`
        : body.message
    case 401:
      return tokenNeeded
    case 413:
      return body.error === "PayloadTooLarge"
        ? "the value is over the size the server takes in one request; store it in parts"
        : body.message
    default:
      return body.message
  }
}

const decodeErrorBody = Schema.decodeUnknown(ErrorBody)

/** The server's URL as requests are made from it: without a trailing `/`. */
const baseUrlOf = (connection: Connection) => connection.url.replace(/\/+$/, "")

/** A transport failure, or a connection cut while a body streams: no server answers. */
const unreachable = (connection: Connection, error: HttpClientError.HttpClientError) =>
  new ServerUnreachable({
    url: baseUrlOf(connection),
    reason: error.cause instanceof Error ? error.cause.message : error.message
  })

// A transport failure means no server; an error answer is the server's, in the CLI's words.
const send = (connection: Connection, request: HttpClientRequest.HttpClientRequest, target: Target) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => {
    const authorized = Option.match(connection.token, {
      onNone: () => request,
      onSome: (token) => HttpClientRequest.bearerToken(request, Redacted.value(token))
    })
    return client.execute(HttpClientRequest.prependUrl(authorized, baseUrlOf(connection))).pipe(
      Effect.mapError((error) => unreachable(connection, error)),
      Effect.flatMap((response): Effect.Effect<HttpClientResponse.HttpClientResponse, ClientError> => {
        if (response.status < 400) return Effect.succeed(response)
        const status = response.status
        return response.json.pipe(
          Effect.flatMap(decodeErrorBody),
          Effect.mapError(() => new RequestFailed({ error: "BadResponse", reason: `the server answered ${status}`, status })),
          Effect.flatMap((body) => new RequestFailed({ error: body.error, reason: inCliWords(status, body, target), status }))
        )
      })
    )
  })

// The answers' bodies, as the API declares them.
const Version = Schema.Struct({ version: Schema.Number })
const Stores = Schema.Struct({ stores: Schema.Array(Schema.String) })
const Page = Schema.Struct({ keys: Schema.Array(Schema.String), next: Schema.OptionFromNullOr(Schema.String) })

// The JSON body of a successful answer, decoded by `schema`.
const answer = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(schema)
  return (response: HttpClientResponse.HttpClientResponse): Effect.Effect<A, ClientError> =>
    response.json.pipe(
      Effect.flatMap(decode),
      Effect.mapError((error) => new RequestFailed({ error: "BadResponse", reason: `unexpected answer: ${error.message}` }))
    )
}

const versionOf = answer(Version)
const keyPath = (store: string, key: string) => `/stores/${encodeURIComponent(store)}/keys/${encodeURIComponent(key)}`
const storePath = (store: string) => `/stores/${encodeURIComponent(store)}`

/**
 * Builds the client: each method one request of the HTTP API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (connection: Connection): Effect.Effect<Context.Tag.Service<ServerClient>, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const call = <A>(
      request: HttpClientRequest.HttpClientRequest,
      target: Target,
      decode: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, ClientError>
    ) => Effect.flatMap(send(connection, request, target), decode).pipe(Effect.provideService(HttpClient.HttpClient, client))
    const json = (request: HttpClientRequest.HttpClientRequest, body: unknown) =>
      HttpClientRequest.bodyText(request, JSON.stringify(body), "application/json")
    return {
      get: (store, key) => call(HttpClientRequest.get(keyPath(store, key)), { store, key }, answer(Schema.Unknown)),
      put: (store, key, value, ttl) =>
        call(
          json(HttpClientRequest.put(keyPath(store, key), ttl === undefined ? {} : { urlParams: { ttl: String(ttl) } }), value),
          { store, key },
          versionOf
        ).pipe(Effect.map((body) => body.version)),
      delete: (store, key) => call(HttpClientRequest.del(keyPath(store, key)), { store, key }, () => Effect.void),
      keys: (store, query) =>
        call(
          HttpClientRequest.get(`${storePath(store)}/keys`, {
            urlParams: Option.match(query.after, {
              onNone: () => ({ prefix: query.prefix, limit: String(query.limit) }),
              onSome: (after) => ({ prefix: query.prefix, limit: String(query.limit), after })
            })
          }),
          { store },
          answer(Page)
        ),
      stores: call(HttpClientRequest.get("/stores"), {}, answer(Stores)).pipe(Effect.map((body) => body.stores)),
      restart: (store) => call(HttpClientRequest.post(`${storePath(store)}/restart`), { store }, () => Effect.void),
      expire: (store, key, seconds) =>
        call(json(HttpClientRequest.put(`${keyPath(store, key)}/ttl`), { ttl: seconds }), { store, key }, versionOf).pipe(
          Effect.map((body) => body.version)
        ),
      persist: (store, key) =>
        call(HttpClientRequest.del(`${keyPath(store, key)}/ttl`), { store, key }, versionOf).pipe(Effect.map((body) => body.version)),
      atomic: (store, write) =>
        call(json(HttpClientRequest.post(`${storePath(store)}/atomic`), write), { store }, versionOf).pipe(
          Effect.map((body) => body.version)
        )
    }
  })

// How long `getLines` waits for an answer to begin: the routes it reads answer at once, and the
// body then streams for as long as it takes.
const answerDeadline = Duration.seconds(10)

/**
 * The body of `GET path` (a path and a query) from the server, as lines of text streamed as they
 * come: what `watch` and `export --url` read. An error answer fails with `RequestFailed`, in the
 * server's words and with its status; a server that cannot be reached, or a connection cut while
 * the body streams, with `ServerUnreachable`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const getLines = (
  connection: Connection,
  path: string,
  headers: Record<string, string> = {}
): Stream.Stream<string, ClientError, HttpClient.HttpClient> =>
  Stream.unwrap(
    send(connection, HttpClientRequest.setHeaders(HttpClientRequest.get(path), headers), {}).pipe(
      // A server that takes the connection and never answers (a hung proxy, or an effect-kv
      // before 0.2.0 caught between listening and attaching its handler) is given up, and a
      // watch then reconnects.
      Effect.timeoutFail({
        duration: answerDeadline,
        onTimeout: () =>
          new ServerUnreachable({ url: baseUrlOf(connection), reason: `no answer in ${Duration.format(answerDeadline)}` })
      }),
      Effect.map((response) =>
        response.stream.pipe(
          Stream.decodeText(),
          Stream.splitLines,
          Stream.mapError((error: HttpClientError.ResponseError) => unreachable(connection, error))
        ))
    )
  )

/**
 * The client for `connection`, on Node's HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (connection: Connection): Layer.Layer<ServerClient> =>
  Layer.effect(ServerClient, make(connection)).pipe(Layer.provide(NodeHttpClient.layer))
