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

/** A route the server answers: a method and a path with `:param` segments. */
export interface Route {
  readonly method: string
  readonly path: string
}

/** Every route that `api` declares. */
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
 * Answers what the router does not match: 400 for a path that does not decode as UTF-8 (the
 * router cannot tell it from a miss), 405 with `Allow` for a known path with another method, 404
 * otherwise; and reports a request that does not match its endpoint's schemas as a 400 of ours.
 */
export const routeErrors = (routes: ReadonlyArray<Route>) => {
  const patterns = routes.map((route) => ({ method: route.method, pattern: patternOf(route.path) }))
  return (app: HttpApp.Default): HttpApp.Default<BadRequest> =>
    // The app's type says it cannot fail, but the router and the endpoints' decoding do.
    Effect.catchAllCause(app, (cause) => {
      const error = Cause.squash(cause)
      if (error instanceof HttpApiDecodeError) {
        return Effect.fail(new BadRequest({ error: "InvalidRequest", message: error.message }))
      }
      if (!(error instanceof HttpServerError.RouteNotFound)) return Effect.failCause(cause)
      const path = error.request.url.split("?")[0] ?? ""
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
        message: "no such route; GET /openapi.json lists them, GET /docs shows them"
      }))
    })
}

const statusHeader = (status: number): readonly [string, string] | undefined => {
  switch (status) {
    case 401:
      return ["www-authenticate", "Bearer"]
    case 503:
      return ["retry-after", "1"]
    default:
      return undefined
  }
}

/**
 * Headers that the API's error schemas cannot carry: `WWW-Authenticate` on 401, `Retry-After` on
 * 503, and `Connection: close` once `draining()` says the server is closing, so that keep-alive
 * clients let go and the close need not wait out their idle timeout. A pre-response handler,
 * because the server sends the response before outer middleware sees it.
 */
export const responseHeaders = (draining: () => boolean): HttpApp.PreResponseHandler => (_, response) => {
  const header = statusHeader(response.status)
  const withStatus = header === undefined ? response : HttpServerResponse.setHeader(response, ...header)
  return Effect.succeed(draining() ? HttpServerResponse.setHeader(withStatus, "connection", "close") : withStatus)
}

// The status the platform records for a request whose client closed the connection first.
const clientGone = 499

/**
 * One structured log line per request: debug when it succeeds or its client went away, warning
 * when it answers an error, error with the cause on a 500 (a bug).
 */
export const requestLog = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    // Most servers log no debug lines: then a request that went well costs no logging at all.
    const debug = LogLevel.lessThanEqual(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
    const started = performance.now()
    return Effect.onExit(app, (exit) => {
      const status = Exit.isSuccess(exit)
        ? exit.value.status
        : HttpServerError.causeResponseStripped(exit.cause)[0].status
      const quiet = status < 400 || status === clientGone
      if (quiet && !debug) return Effect.void
      const log = status === clientGone
        ? Effect.logDebug("client went away")
        : status >= 500 && Exit.isFailure(exit)
        ? Effect.logError("request failed", exit.cause)
        : status >= 400
        ? Effect.logWarning("request refused")
        : Effect.logDebug("request")
      return Effect.annotateLogs(log, {
        method: request.method,
        path: request.url.split("?")[0]?.slice(0, 200),
        status,
        ms: Math.round(performance.now() - started)
      })
    })
  })
