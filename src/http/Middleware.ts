/**
 * What the server does around every request: answers the router's misses with JSON (404, 405,
 * 400 for a path that is not UTF-8), turns decoding failures into 400s, adds the headers that the
 * API declaration cannot carry, and logs one line per request.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import { BadRequest, respond } from "./Errors.js"

/**
 * A route the server answers: a method and a path with `:param` segments.
 *
 * @since 0.1.0
 * @category models
 */
export interface Route {
  readonly method: string
  readonly path: string
}

/**
 * Every route that `api` declares.
 *
 * @since 0.1.0
 * @category utils
 */
export const routesOf = (api: HttpApi.HttpApi.Any): Array<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => routes.push({ method: endpoint.method, path: endpoint.path })
  })
  return routes
}

const patternOf = (path: string) =>
  new RegExp(`^${path.split("/").map((segment) => segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("/")}$`)

const isUtf8Path = (path: string) => {
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}

/**
 * What a request that does not match its endpoint's schemas did wrong, in sentences: each
 * header and query schema of the API words its own (`If-Match: send a version as ETag gives
 * it, ...`); anything else is named by where it is.
 */
const sentenceOf = (error: HttpApiDecodeError): string => {
  const sentences = error.issues.map(({ message, path }) => {
    const name = String(path[0] ?? "")
    return name === "" || message.toLowerCase().startsWith(`${name.toLowerCase()}:`) ? message : `${name}: ${message}`
  })
  return [...new Set(sentences)].join("; ")
}

const emptySegment = /\/\/|.\/$/

/**
 * Answers a request the router would take wrongly: a path with an empty segment (`/stores/`,
 * `//stores`, `/stores/s/keys/`) is refused rather than routed as if the slash were not there,
 * and a browser's `/favicon.ico` gets an empty 204 rather than a 404 to log.
 */
const answerBeforeRouting = (request: HttpServerRequest.HttpServerRequest): HttpServerResponse.HttpServerResponse | undefined => {
  const path = pathOf(request.url)
  if (path === "/favicon.ico" && (request.method === "GET" || request.method === "HEAD")) {
    return HttpServerResponse.empty({ status: 204 })
  }
  // Only an origin-form target ("/..."): an absolute URL holds "//" after its scheme.
  if (path[0] !== "/" || !emptySegment.test(path)) return undefined
  const meant = path.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1")
  return respond(404, {
    error: "NotFound",
    message: `no route has an empty segment, as ${JSON.stringify(path.slice(0, 200))} has (a doubled or trailing /): ` +
      `store names and keys cannot be empty; did you mean ${meant.slice(0, 200)}?`
  })
}

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/**
 * Answers what the router does not match: 400 for a path that does not decode as UTF-8 (the
 * router cannot tell it from a miss), 405 with `Allow` for a known path with another method, 404
 * otherwise; refuses paths with an empty segment before routing; and reports a request that does
 * not match its endpoint's schemas as a 400 of ours, in sentences.
 *
 * @since 0.1.0
 * @category middleware
 */
export const routeErrors = (routes: ReadonlyArray<Route>) => {
  const patterns = routes.map((route) => ({ method: route.method, pattern: patternOf(route.path) }))
  return (app: HttpApp.Default): HttpApp.Default<BadRequest> =>
    Effect.withFiberRuntime((fiber) => {
      const early = answerBeforeRouting(Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest))
      if (early !== undefined) return Effect.succeed(early)
      // The app's type says it cannot fail, but the router and the endpoints' decoding do.
      return Effect.catchAllCause(app, (cause) => {
        const error = Cause.squash(cause)
        if (error instanceof HttpApiDecodeError) {
          return Effect.fail(new BadRequest({ error: "InvalidRequest", message: sentenceOf(error) }))
        }
        if (!(error instanceof HttpServerError.RouteNotFound)) return Effect.failCause(cause)
        const path = pathOf(error.request.url)
        if (!isUtf8Path(path)) {
          return Effect.succeed(respond(400, {
            error: "InvalidPath",
            message: "the path is not valid percent-encoded UTF-8; encode store names and keys with encodeURIComponent"
          }))
        }
        const allowed = patterns.filter(({ pattern }) => pattern.test(path)).map(({ method }) => method)
        if (allowed.length > 0) {
          return Effect.succeed(respond(405, {
            error: "MethodNotAllowed",
            message: `${error.request.method} is not allowed here; use ${allowed.join(", ")}`
          }, { allow: allowed.join(", ") }))
        }
        return Effect.succeed(respond(404, {
          error: "NotFound",
          message: "no such route; GET /openapi.json lists them, GET /docs shows them, GET /ui browses the stores"
        }))
      })
    })
}

/**
 * The header that a response of `status` carries beyond its declaration, if any.
 *
 * @since 0.2.0
 * @category utils
 */
export const statusHeader = (status: number): readonly [string, string] | undefined => {
  switch (status) {
    case 401:
      return ["www-authenticate", "Bearer"]
    // A body cut off past the limit leaves the rest unread: the connection cannot be reused.
    case 413:
      return ["connection", "close"]
    case 503:
    case 507:
      return ["retry-after", "1"]
    default:
      return undefined
  }
}

/**
 * Headers that the API's error schemas cannot carry: `WWW-Authenticate` on 401, `Retry-After` on
 * 503 and 507, `Connection: close` on 413 and once `draining()` says the server is closing, so
 * that keep-alive clients let go and the close need not wait out their idle timeout. A
 * pre-response handler, because the server sends the response before outer middleware sees it.
 *
 * @since 0.1.0
 * @category middleware
 */
export const responseHeaders = (draining: () => boolean): HttpApp.PreResponseHandler => (_, response) => {
  const header = statusHeader(response.status)
  const withStatus = header === undefined ? response : HttpServerResponse.setHeader(response, ...header)
  return Effect.succeed(draining() ? HttpServerResponse.setHeader(withStatus, "connection", "close") : withStatus)
}

/**
 * The status the platform records for a request whose client closed the connection first.
 *
 * @since 0.2.0
 * @category constructors
 */
export const clientGone = 499

/**
 * The log line of a request that ended with `status`, `failure` its cause if it failed:
 * `undefined` when a request that went well is not logged (the level is above debug).
 *
 * @since 0.2.0
 * @category utils
 */
export const requestLine = (
  method: string,
  url: string,
  status: number,
  started: number,
  debug: boolean,
  failure: Cause.Cause<unknown> | undefined
): Effect.Effect<void> | undefined => {
  const quiet = status < 400 || status === clientGone
  if (quiet && !debug) return undefined
  const log = status === clientGone
    ? Effect.logDebug("client went away")
    : status >= 500 && failure !== undefined
    ? Effect.logError("request failed", failure)
    : status >= 400
    ? Effect.logWarning("request refused")
    : Effect.logDebug("request")
  return Effect.annotateLogs(log, {
    method,
    path: pathOf(url).slice(0, 200),
    status,
    ms: Math.round(performance.now() - started)
  })
}

/**
 * Whether a minimum log level of `level` lets debug lines through: most servers log none, and then
 * a request that went well costs no logging at all.
 *
 * @since 0.2.0
 * @category utils
 */
export const logsDebug = (level: LogLevel.LogLevel): boolean => LogLevel.lessThanEqual(level, LogLevel.Debug)

/**
 * One structured log line per request: debug when it succeeds or its client went away, warning
 * when it answers an error, error with the cause on a 500 (a bug).
 *
 * @since 0.1.0
 * @category middleware
 */
export const requestLog = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const debug = logsDebug(fiber.getFiberRef(FiberRef.currentMinimumLogLevel))
    const started = performance.now()
    return Effect.onExit(app, (exit) => {
      const status = Exit.isSuccess(exit)
        ? exit.value.status
        : HttpServerError.causeResponseStripped(exit.cause)[0].status
      return requestLine(request.method, request.url, status, started, debug, Exit.isFailure(exit) ? exit.cause : undefined) ??
        Effect.void
    })
  })
