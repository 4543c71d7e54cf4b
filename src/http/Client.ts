/**
 * A typed client of the HTTP API, built from the same declaration as the server.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.make({ baseUrl: "http://127.0.0.1:4000", token: process.env.KV_TOKEN })
 *   const { version } = yield* client.keys.put({ path: { store: "users", key: "ada" }, payload: { name: "Ada" }, headers: {} })
 *   const ada = yield* client.keys.get({ path: { store: "users", key: "ada" }, headers: {} })
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * Failures are the API's errors (`BadRequest`, `NotFound`, `PreconditionFailed`, ... each with
 * `error` and `message`), or the `HttpClient`'s own when the server cannot be reached.
 *
 * @since 0.1.0
 */
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { KvApi } from "./Api.js"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** Where the server is, e.g. `http://127.0.0.1:4000`. */
  readonly baseUrl: string
  /** The server's token, sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined
}

/**
 * A client of the server at `baseUrl`, on the `HttpClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ClientOptions) => {
  const token = options.token
  return HttpApiClient.make(KvApi, {
    baseUrl: options.baseUrl,
    ...(token === undefined ? {} : {
      transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
    })
  })
}
