/**
 * How the client commands talk to a running server: one `ServerClient` service, built from the
 * `--url` and `--token` options on the typed client of the HTTP API's declaration, that turns
 * each error answer into a `RequestFailed` carrying the server's own message.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import type { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import type { AtomicBody } from "../http/Api.js"
import * as HttpDoor from "../http/Client.js"
import type { HttpError } from "../http/Errors.js"
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

/** What a call was about, so that an answer can be told in the CLI's words. */
interface Target {
  readonly store?: string
  readonly key?: string
}

// The server's own messages speak HTTP (paths, headers) where a CLI user needs a command.
const inCliWords = (error: HttpError, target: Target): string => {
  switch (error._tag) {
    case "NotFound":
      return target.store !== undefined && target.key !== undefined
        ? `key ${JSON.stringify(target.key.slice(0, 200))} is not in store "${target.store}"; ` +
          `list its keys with: effect-kv keys ${target.store}`
        : error.message
    case "Unauthorized":
      return "the server needs a token: pass --token <token> or set KV_TOKEN"
    case "PayloadTooLarge":
      return error.error === "PayloadTooLarge"
        ? "the value is over the size the server takes in one request; store it in parts"
        : error.message
    default:
      return error.message
  }
}

// A transport failure means no server; any other failure is the server's answer, or a bad one.
const translate = (url: string, target: Target) =>
(
  error: HttpError | HttpApiDecodeError | HttpClientError.HttpClientError | ParseResult.ParseError
): ClientError => {
  switch (error._tag) {
    case "RequestError":
      return new ServerUnreachable({ url, reason: error.cause instanceof Error ? error.cause.message : error.reason })
    case "ResponseError":
      return new RequestFailed({ error: "BadResponse", reason: error.message })
    case "ParseError":
    case "HttpApiDecodeError":
      return new RequestFailed({ error: "BadResponse", reason: `unexpected answer: ${error.message}` })
    default:
      return new RequestFailed({ error: error.error, reason: inCliWords(error, target) })
  }
}

/**
 * Builds the client on the HTTP door's typed client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (connection: Connection): Effect.Effect<Context.Tag.Service<ServerClient>, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = connection.url.replace(/\/+$/, "")
    const api = yield* HttpDoor.make({ baseUrl, token: Option.getOrUndefined(Option.map(connection.token, Redacted.value)) })
    const fail = (target: Target) => Effect.mapError(translate(baseUrl, target))
    return {
      get: (store, key) => fail({ store, key })(api.keys.get({ path: { store, key }, headers: {} })),
      put: (store, key, value, ttl) =>
        fail({ store, key })(
          api.keys.put({ path: { store, key }, urlParams: ttl === undefined ? {} : { ttl }, headers: {}, payload: value })
        ).pipe(Effect.map((body) => body.version)),
      delete: (store, key) => fail({ store, key })(api.keys.delete({ path: { store, key }, headers: {} })),
      keys: (store, query) =>
        fail({ store })(api.keys.list({
          path: { store },
          urlParams: Option.match(query.after, {
            onNone: () => ({ prefix: query.prefix, limit: query.limit }),
            onSome: (after) => ({ prefix: query.prefix, limit: query.limit, after })
          })
        })),
      stores: fail({})(api.stores.list()).pipe(Effect.map((body) => body.stores)),
      restart: (store) => fail({ store })(api.stores.restart({ path: { store } })),
      expire: (store, key, seconds) =>
        fail({ store, key })(api.keys.expire({ path: { store, key }, headers: {}, payload: { ttl: seconds } })).pipe(
          Effect.map((body) => body.version)
        ),
      persist: (store, key) =>
        fail({ store, key })(api.keys.persist({ path: { store, key }, headers: {} })).pipe(Effect.map((body) => body.version)),
      atomic: (store, write) =>
        fail({ store })(api.atomic.write({ path: { store }, payload: write })).pipe(Effect.map((body) => body.version))
    }
  })

/**
 * The client for `connection`, on Node's HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (connection: Connection): Layer.Layer<ServerClient> =>
  Layer.effect(ServerClient, make(connection)).pipe(Layer.provide(NodeHttpClient.layer))
