/**
 * The HTTP server: {@link KvApi} on Node's `http`, with `GET /openapi.json`, Swagger UI at
 * `GET /docs` and the web console at `GET /ui` (see `Console`).
 *
 * ```ts
 * const server = Server.layer({ port: 4000, token: process.env.KV_TOKEN }).pipe(Layer.provide(KV.layerMemory()))
 * Layer.launch(server).pipe(NodeRuntime.runMain)
 * ```
 *
 * The server lives as long as its layer: when the layer's scope closes it stops accepting
 * connections, lets the requests in flight finish, then closes. It needs `KV` and releases it
 * only after that.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createServer } from "node:http"
import { KV } from "../kv/KV.js"
import type { DuplicateChild } from "../otp/Supervisor.js"
import { KvApi } from "./Api.js"
import * as Auth from "./Auth.js"
import * as Console from "./Console.js"
import { defaultMaxBodyBytes, defaultMaxBodyBytesInFlight } from "./Body.js"
import * as Handlers from "./Handlers.js"
import { onClientError } from "./internal/clientError.js"
import { holdEarlyRequests } from "./internal/holdEarly.js"
import { defaultHost, defaultPort, defaultRequestTimeout } from "./Defaults.js"
import { requestLog, responseHeaders, routeErrors, routesOf } from "./Middleware.js"

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** The interface to listen on (default `127.0.0.1`: this machine only). */
  readonly host?: string
  /** The port (default 4000; 0 takes a free one, which `HttpServer`'s `address` tells). */
  readonly port?: number
  /** When set, every route but `/health` needs `Authorization: Bearer <token>`. */
  readonly token?: string | undefined
  /**
   * Serve `GET /metrics` without the token, for a scraper that holds no secret (default false).
   *
   * @since 0.2.0
   */
  readonly metricsPublic?: boolean
  /** The largest request body, in bytes (default 1 MiB); larger ones get 413. */
  readonly maxBodyBytes?: number
  /**
   * The bytes of bodies over 64 KiB that may be read and parsed at once (default 4 MiB); more
   * wait their turn, so that many large writes together keep the server's memory bounded.
   */
  readonly maxBodyBytesInFlight?: number
  /**
   * How long a request may wait for the server itself before `KV` takes it: for its turn to read a
   * large body (default 5 seconds, as `KV`'s `callTimeout`, which bounds the rest); past it 503
   * `Overloaded`, and nothing was done.
   *
   * @since 0.2.0
   */
  readonly requestTimeout?: Duration.DurationInput
  /**
   * Origins whose browser apps may call the API (CORS): `*` for any, or the origins such as
   * `https://app.example.com`. Default: none, and `OPTIONS` answers 405.
   */
  readonly corsOrigins?: ReadonlyArray<string> | undefined
  /** Whether to serve the web console at `/ui` (default true). */
  readonly console?: boolean
}

/**
 * The interface, port and request deadline the server takes when none is given (defined in
 * `Defaults.ts`, which the CLI reads without loading the server).
 *
 * @since 0.1.0
 * @category constructors
 */
export { defaultHost, defaultPort, defaultRequestTimeout }

/**
 * The headers a browser app may send and read, when CORS is on.
 *
 * @since 0.2.0
 * @category constructors
 */
export const corsHeaders = {
  allowed: ["authorization", "content-type", "if-match", "if-none-match"],
  exposed: ["etag", "kv-expires-at", "retry-after", "www-authenticate", "allow"]
} as const

const cors = (origins: ReadonlyArray<string> | undefined) =>
  origins === undefined || origins.length === 0
    ? Layer.empty
    : HttpApiBuilder.middlewareCors({
      // No list means any origin: the platform then answers "*".
      allowedOrigins: origins.includes("*") ? [] : origins,
      allowedMethods: ["GET", "PUT", "POST", "DELETE"],
      allowedHeaders: corsHeaders.allowed,
      exposedHeaders: corsHeaders.exposed,
      maxAge: 600
    })

const openApiPath = "/openapi.json"
const docsPath = "/docs"

/**
 * Serves {@link KvApi} on the `KV` in context. Provides the platform's `HttpServer`, whose
 * `address` is the bound host and port.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ServerOptions = {}): Layer.Layer<HttpServer.HttpServer, ServeError, KV> => {
  const withConsole = options.console ?? true
  const routes = [
    ...routesOf(KvApi),
    { method: "GET", path: openApiPath },
    { method: "GET", path: docsPath },
    ...(withConsole ? Console.routes : [])
  ]
  return Layer.unwrapEffect(Effect.sync(() => {
    const server = createServer()
    server.on("clientError", onClientError)
    holdEarlyRequests(server)
    let draining = false
    const closing = Deferred.unsafeMake<void>(FiberId.none)
    const api = HttpApiBuilder.api(KvApi).pipe(
      Layer.provide(Handlers.layer({
        maxBodyBytes: options.maxBodyBytes ?? defaultMaxBodyBytes,
        maxBodyBytesInFlight: options.maxBodyBytesInFlight ?? defaultMaxBodyBytesInFlight,
        requestTimeout: options.requestTimeout ?? defaultRequestTimeout,
        closing: Deferred.await(closing)
      })),
      Layer.provide(Auth.layer(options.token)),
      Layer.provide(Auth.layerMetrics(options.token, options.metricsPublic ?? false))
    )
    // Built after the server serves, so released before it stops serving: with the handler still
    // attached, end the open watches, answer with Connection: close and wait until every
    // connection has ended.
    const drain = Layer.scopedDiscard(Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        draining = true
        Deferred.unsafeDone(closing, Exit.void)
        if (!server.listening) return resume(Effect.void)
        server.close(() => resume(Effect.void))
      })
    ))
    const serve = HttpApiBuilder.serve(requestLog).pipe(
      Layer.locally(HttpApp.currentPreResponseHandlers, Option.some(responseHeaders(() => draining)))
    )
    return drain.pipe(
      Layer.provideMerge(serve),
      Layer.provide(HttpApiSwagger.layer({ path: docsPath })),
      Layer.provide(withConsole ? Console.layer : Layer.empty),
      Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: openApiPath })),
      // Built after routeErrors, so outside it: a preflight is answered before any 405.
      Layer.provide(cors(options.corsOrigins)),
      Layer.provide(HttpApiBuilder.middleware(KvApi, routeErrors(routes))),
      Layer.provide(api),
      // Keys may be 1 KiB of UTF-8, many times that percent-encoded: Node's header limit bounds a path anyway.
      Layer.locally(HttpRouter.currentRouterConfig, { maxParamLength: Number.MAX_SAFE_INTEGER }),
      Layer.provideMerge(NodeHttpServer.layer(() => server, {
        host: options.host ?? defaultHost,
        port: options.port ?? defaultPort
      }))
    )
  }))
}

/**
 * Starts the server as the last child of `KV`'s supervision tree (the tutorial's part 6): it
 * stops first when the tree shuts down, finishing its requests before any store closes.
 * Returns the address it listens on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startInTree = (
  options: ServerOptions = {}
): Effect.Effect<HttpServer.Address, ServeError | DuplicateChild, KV> =>
  Effect.gen(function*() {
    const kv = yield* KV
    const child = yield* kv.supervisor.startChild({
      id: "http",
      // Draining waits for the requests in flight: a second signal is the way to cut it short.
      shutdown: Duration.infinity,
      start: Effect.map(
        Layer.build(layer(options).pipe(Layer.provide(Layer.succeed(KV, kv)))),
        (context) => ({ address: Context.get(context, HttpServer.HttpServer).address, await: Effect.never })
      )
    })
    return child.address
  })
