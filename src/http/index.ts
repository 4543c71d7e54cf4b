/**
 * The HTTP door: the API's declaration, its server and its typed client.
 *
 * @since 0.1.0
 */
export { KvApi } from "./Api.js"
export * as Client from "./Client.js"
export * as Console from "./Console.js"
export * from "./Errors.js"
export * as Server from "./Server.js"
/** Effect's metrics in Prometheus's text format, as `GET /metrics` serves them. */
export * as Prometheus from "./Prometheus.js"
