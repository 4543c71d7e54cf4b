/**
 * The HTTP door: the API's declaration, its server and its typed client.
 *
 * @since 0.1.0
 */

/**
 * The one declaration of the HTTP API.
 *
 * @since 0.1.0
 */
export { KvApi } from "./Api.js"
/**
 * A typed client of the API, derived from its declaration.
 *
 * @since 0.1.0
 */
export * as Client from "./Client.js"
/**
 * The web console the server serves at `/ui`.
 *
 * @since 0.2.0
 */
export * as Console from "./Console.js"
/**
 * The API's error responses and how `KV`'s errors map to statuses.
 *
 * @since 0.1.0
 */
export * from "./Errors.js"
/**
 * The server: serves the API on the `KV` in context.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.js"
/**
 * Effect's metrics in Prometheus's text format, as `GET /metrics` serves them.
 *
 * @since 0.2.0
 */
export * as Prometheus from "./Prometheus.js"
