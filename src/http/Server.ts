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
import type * as HttpMiddleware from "@effect/platform/HttpMiddleware"
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
import * as FiberRef from "effect/FiberRef"
import type * as Metric from "effect/Metric"
import * as Http from "node:http"
import { KV } from "../kv/KV.js"
import type { DuplicateChild } from "../otp/Supervisor.js"
import * as Tracing from "../otp/Tracing.js"
import { KvApi } from "./Api.js"
import * as Auth from "./Auth.js"
import * as Console from "./Console.js"
import { decodeBody, defaultMaxBodyBytes, defaultMaxBodyBytesInFlight, kindOf, smallBody } from "./Body.js"
import { fromKV, keyNotFound, statusOf } from "./Errors.js"
import * as Handlers from "./Handlers.js"
import { onClientError } from "./internal/clientError.js"
import { holdEarlyRequests } from "./internal/holdEarly.js"
import { defaultHost, defaultPort, defaultRequestTimeout } from "./Defaults.js"
import * as FastPath from "./internal/fastPath.js"
import {
  clientGone,
  logsDebug,
  requestLine,
  requestLog,
  responseHeaders,
  routeErrors,
  routesOf,
  statusHeader
} from "./Middleware.js"

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
  /**
   * Whether GET, PUT and DELETE of a key may be answered by the fast path (default true): a
   * listener under the declared API that answers them without the platform's per-request
   * pipeline, byte for byte as it would, and hands over every request it is not sure of. Off
   * while a tracer records spans, so that every request is traced as declared.
   *
   * @since 0.2.0
   */
  readonly fastPath?: boolean
}

/**
 * Requests that the fast path answered (see {@link ServerOptions.fastPath}), of every server of
 * the process; shown at `GET /metrics` as `effect_kv_http_fast_path_requests_total`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const fastPathRequests: Metric.Metric.Counter<number> = FastPath.requests

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

/**
 * The CORS headers that the platform's middleware adds to an answer (not a preflight) for a
 * request's `Origin`, as the fast path adds them; `null` where it does not match an allowed
 * origin exactly, and the fast path hands the request over.
 */
const corsAnswer = (origins: ReadonlyArray<string> | undefined) => {
  if (origins === undefined || origins.length === 0) return undefined
  const expose = { "access-control-expose-headers": corsHeaders.exposed.join(",") }
  if (origins.includes("*")) {
    const any = { "access-control-allow-origin": "*", ...expose }
    return (): Record<string, string> => ({ ...any })
  }
  if (origins.length === 1) {
    const one = { "access-control-allow-origin": origins[0]!, vary: "Origin", ...expose }
    return (origin: string | undefined) => origin === undefined || origin === origins[0] ? { ...one } : null
  }
  return (origin: string | undefined) =>
    origin === undefined
      ? { ...expose }
      : origins.includes(origin)
      ? { "access-control-allow-origin": origin, vary: "Origin", ...expose }
      : null
}

/**
 * The platform's `HttpServer` with the fast path in front of the listener that serving the API
 * attaches: that listener is taken off the server and handed every request the fast path does
 * not take. Serving stays the platform's own (its upgrade listener included).
 */
const withFastPath = (
  server: Http.Server,
  options: ServerOptions,
  draining: () => boolean
): Layer.Layer<HttpServer.HttpServer, never, HttpServer.HttpServer | KV> =>
  Layer.effect(
    HttpServer.HttpServer,
    Effect.gen(function*() {
      const base = yield* HttpServer.HttpServer
      const kv = yield* KV
      const serve = (app: HttpApp.Default<unknown, unknown>, middleware?: HttpMiddleware.HttpMiddleware) =>
        Effect.gen(function*() {
          const before = server.listeners("request")
          yield* base.serve(app, middleware as HttpMiddleware.HttpMiddleware)
          // Node types listeners as bare functions; this one is the platform's request listener.
          const declared = server.listeners("request").find((listener) => !before.includes(listener)) as
            | FastPath.Listener
            | undefined
          const recording = yield* Effect.withFiberRuntime((fiber) => Effect.succeed(Tracing.isRecording(fiber)))
          if (declared === undefined || recording) return
          const token = Auth.needsToken(options.token) ? Auth.tokenMatches(options.token) : undefined
          const fast = FastPath.make({
            kv,
            runtime: yield* Effect.runtime<never>(),
            maxBodyBytes: Math.min(smallBody, options.maxBodyBytes ?? defaultMaxBodyBytes),
            tokenMatches: token,
            cors: corsAnswer(options.corsOrigins),
            draining,
            debug: logsDebug(yield* FiberRef.get(FiberRef.currentMinimumLogLevel)),
            fromKV,
            statusOf,
            keyNotFound,
            kindOf,
            decodeBody,
            putOptions: Handlers.putOptions,
            readHeaders: Handlers.readHeaders,
            notModified: Handlers.notModified,
            statusHeader,
            clientGone,
            requestLine
          })(declared)
          server.off("request", declared)
          server.on("request", fast)
          yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", fast)))
        })
      return HttpServer.make({ address: base.address, serve: serve as HttpServer.HttpServer["serve"] })
    })
  )

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
    const server = Http.createServer()
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
      Layer.locally(HttpApp.currentPreResponseHandlers, Option.some(responseHeaders(() => draining))),
      Layer.provide(options.fastPath ?? true ? withFastPath(server, options, () => draining) : Layer.empty)
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
