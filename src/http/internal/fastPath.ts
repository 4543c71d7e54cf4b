/**
 * The fast path: a `node:http` request listener that answers GET, PUT and DELETE of a key itself,
 * calling `KV` through a `Runtime` obtained once, and hands every other request, untouched and
 * before reading any of it, to the listener of the declared path (`KvApi` on the platform).
 *
 * It takes a request only when it is sure to answer it byte for byte as the declared path would:
 * no query but a valid `?ttl=` on a PUT, `If-Match`/`If-None-Match` only in their plain forms,
 * a PUT body with a `Content-Length` of at most 64 KiB (and the body limit) of a declared type,
 * the token if there is one, an `Origin` only where it can answer CORS exactly, and never while
 * the server drains. The refusals it can meet after that (a body that is not JSON, every error of
 * `KV`) are answered with the declared path's own functions, passed in by `Server`.
 *
 * @internal
 */
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import type { KVService, PutOptions } from "../../kv/KV.js"
import type { Entry } from "../../storage/Change.js"
import type { BodyKind, decodeBody, kindOf } from "../Body.js"
import type { HttpError, keyNotFound, KVError, statusOf } from "../Errors.js"
import type { notModified, putOptions, readHeaders } from "../Handlers.js"
import type { requestLine, statusHeader } from "../Middleware.js"

/** A `node:http` request listener. */
export type Listener = (request: IncomingMessage, response: ServerResponse) => void

/** What the declared path does, as its modules define it: the fast path answers with these. */
export interface Declared {
  readonly kv: KVService
  readonly runtime: Runtime.Runtime<never>
  /** The largest body the fast path reads: the body limit, and at most what skips the budget. */
  readonly maxBodyBytes: number
  /** Whether a bearer token is the server's; undefined when the server has none. */
  readonly tokenMatches: ((given: string) => boolean) | undefined
  /** The CORS headers for a request's `Origin`, `null` to hand it over; undefined when CORS is off. */
  readonly cors: ((origin: string | undefined) => Record<string, string> | null) | undefined
  readonly draining: () => boolean
  /** Whether the server logs a line for requests that went well. */
  readonly debug: boolean
  readonly fromKV: (error: KVError) => HttpError
  readonly statusOf: typeof statusOf
  readonly keyNotFound: typeof keyNotFound
  readonly kindOf: typeof kindOf
  readonly decodeBody: typeof decodeBody
  readonly putOptions: typeof putOptions
  readonly readHeaders: typeof readHeaders
  readonly notModified: typeof notModified
  readonly statusHeader: typeof statusHeader
  /** The status logged for a request whose client went away. */
  readonly clientGone: number
  readonly requestLine: typeof requestLine
}

/** A request the fast path took, and what its answer needs. */
interface Exchange {
  readonly request: IncomingMessage
  readonly response: ServerResponse
  readonly started: number
  /** The CORS headers of its answer, when CORS is on. */
  readonly cors: Record<string, string> | undefined
}

const requestsKey = MetricKey.counter("effect_kv_http_fast_path_requests_total", {
  description: "HTTP requests that the fast path answered (GET, PUT and DELETE of a key), of every server of the process",
  incremental: true
})

export const requests: Metric.Metric.Counter<number> = Metric.fromMetricKey(requestsKey)

// A path segment the router decodes exactly as decodeURIComponent does: no `;` (the router cuts
// the path there), no `%` but in a full escape.
const segment = "((?:[\\w\\-.~!$&'()*+,=:@]|%[0-9A-Fa-f]{2})+)"
const keyPath = new RegExp(`^/stores/${segment}/keys/${segment}(?:\\?ttl=([0-9.]+))?$`)
const ttlText = /^(?:\d+(?:\.\d*)?|\.\d+)$/
const versionTag = /^"(\d{1,15})"$/
const noBody = 0
const invalid = -1

const decodeSegment = (text: string): string | undefined => {
  if (!text.includes("%")) return text
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** `If-Match: "<v>"` as its version; `undefined` when absent, `invalid` when in any other form. */
const ifMatch = (given: string | undefined): number | undefined => {
  if (given === undefined) return undefined
  const match = versionTag.exec(given)
  return match === null ? invalid : Number(match[1])
}

const ifNoneMatch = (given: string | undefined): number | "*" | undefined =>
  given === "*" ? "*" : ifMatch(given)

/** A body's length by its header: 0 for none, `invalid` for one sent without a length. */
const bodyLength = (headers: IncomingHttpHeaders): number => {
  if (headers["transfer-encoding"] !== undefined) return invalid
  const length = headers["content-length"]
  return length === undefined ? noBody : Number(length)
}

const jsonType = "application/json"

/** Takes what it is sure of, hands the rest to `handOver`: see the module documentation. */
export const make = (declared: Declared) => {
  const { kv, runtime } = declared
  const fork = Runtime.runFork(runtime)
  const runSync = Runtime.runSync(runtime)
  const hook = Metric.globalMetricRegistry.get(requestsKey)

  const log = (exchange: Exchange, status: number, debug: boolean, failure: Cause.Cause<unknown> | undefined) => {
    const line = declared.requestLine(exchange.request.method!, exchange.request.url!, status, exchange.started, debug, failure)
    if (line !== undefined) runSync(line)
  }

  /** Writes the answer with the headers the declared path adds after its handler, and logs it. */
  const answer = (
    exchange: Exchange,
    status: number,
    headers: Record<string, string>,
    body: string | undefined,
    failure?: Cause.Cause<unknown>
  ) => {
    const extra = declared.statusHeader(status)
    if (extra !== undefined) headers[extra[0]] = extra[1]
    if (declared.draining()) headers["connection"] = "close"
    if (exchange.cors !== undefined) Object.assign(headers, exchange.cors)
    exchange.response.writeHead(status, headers)
    exchange.response.end(body)
    hook.update(1)
    log(exchange, status, declared.debug, failure)
  }

  const json = (exchange: Exchange, status: number, headers: Record<string, string>, text: string) => {
    headers["content-type"] = jsonType
    headers["content-length"] = String(Buffer.byteLength(text))
    answer(exchange, status, headers, text)
  }

  const refuse = (exchange: Exchange, error: HttpError) =>
    json(exchange, declared.statusOf(error), {}, JSON.stringify({ error: error.error, message: error.message }))

  /**
   * Runs `effect` and settles the request with `onSuccess` or its failure, at once when it
   * completes at once (a read of a running store); a client that goes away interrupts it, as the
   * declared path does.
   */
  const run = <A>(exchange: Exchange, effect: Effect.Effect<A, KVError>, onSuccess: (value: A) => void) => {
    const { response } = exchange
    const fiber = fork(effect)
    if (fiber.unsafePoll() === null) {
      response.once("close", () => {
        if (!response.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      })
    }
    fiber.addObserver((exit) => {
      if (response.writableEnded || response.destroyed) return
      if (Exit.isSuccess(exit)) return onSuccess(exit.value)
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return refuse(exchange, declared.fromKV(failure.value))
      // A defect or an interruption: the status the platform gives it, with no body.
      answer(exchange, HttpServerError.causeResponseStripped(exit.cause)[0].status, {}, undefined, exit.cause)
    })
  }

  /** An exchange, whose client leaving before its answer is logged as the declared path's requestLog does. */
  const exchangeOf = (request: IncomingMessage, response: ServerResponse, cors: Record<string, string> | undefined): Exchange => {
    const exchange: Exchange = { request, response, started: performance.now(), cors }
    if (declared.debug) {
      response.once("close", () => {
        if (!response.writableEnded) log(exchange, declared.clientGone, true, undefined)
      })
    }
    return exchange
  }

  const get = (exchange: Exchange, store: string, key: string, noneMatch: number | "*" | undefined) =>
    run(exchange, kv.getEntry(store, key), (found: Option.Option<Entry>) => {
      if (Option.isNone(found)) return refuse(exchange, declared.keyNotFound(store, key))
      const { expiresAt, value, version } = found.value
      const headers = declared.readHeaders(version, expiresAt)
      if (declared.notModified(noneMatch, version)) return answer(exchange, 304, headers, undefined)
      json(exchange, 200, headers, JSON.stringify(value))
    })

  const put = (exchange: Exchange, store: string, key: string, kind: BodyKind, options: PutOptions | undefined) => {
    const chunks: Array<Buffer> = []
    let total = 0
    exchange.request.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      total += chunk.length
    })
    exchange.request.once("end", () => {
      const value = declared.decodeBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), kind)
      if (Either.isLeft(value)) return refuse(exchange, value.left)
      run(exchange, kv.put(store, key, value.right, options), (version) => json(exchange, 200, {}, `{"version":${version}}`))
    })
  }

  const del = (exchange: Exchange, store: string, key: string, expectedVersion: number | undefined) =>
    run(
      exchange,
      kv.delete(store, key, expectedVersion === undefined ? undefined : { expectedVersion }),
      (deleted: boolean) => deleted ? answer(exchange, 204, {}, undefined) : refuse(exchange, declared.keyNotFound(store, key))
    )

  return (handOver: Listener): Listener => (request, response) => {
    const method = request.method
    if (method !== "GET" && method !== "PUT" && method !== "DELETE") return handOver(request, response)
    const match = keyPath.exec(request.url!)
    if (match === null || declared.draining()) return handOver(request, response)
    const headers = request.headers
    if (headers.expect !== undefined) return handOver(request, response)
    const cors = declared.cors === undefined ? undefined : declared.cors(headers.origin)
    if (cors === null) return handOver(request, response)
    if (declared.tokenMatches !== undefined) {
      const authorization = headers.authorization
      if (authorization === undefined || !authorization.startsWith("Bearer ") || !declared.tokenMatches(authorization.slice(7))) {
        return handOver(request, response)
      }
    }
    const store = decodeSegment(match[1]!)
    const key = decodeSegment(match[2]!)
    if (store === undefined || key === undefined) return handOver(request, response)
    const length = bodyLength(headers)
    const ttl = match[3]
    if (method === "PUT") {
      if (length <= noBody || length > declared.maxBodyBytes) return handOver(request, response)
      const kind = declared.kindOf(headers["content-type"])
      if (Either.isLeft(kind)) return handOver(request, response)
      if (ttl !== undefined && !(ttlText.test(ttl) && Number(ttl) > 0)) return handOver(request, response)
      const expected = ifMatch(headers["if-match"])
      const noneMatch = ifNoneMatch(headers["if-none-match"])
      if (expected === invalid || noneMatch === invalid) return handOver(request, response)
      const options = expected === undefined && noneMatch === undefined && ttl === undefined
        ? undefined
        : declared.putOptions({
          ...(expected === undefined ? {} : { "if-match": expected }),
          ...(noneMatch === undefined ? {} : { "if-none-match": noneMatch })
        }, ttl === undefined ? undefined : Number(ttl))
      return put(exchangeOf(request, response, cors), store, key, kind.right, options)
    }
    if (length !== noBody || ttl !== undefined) return handOver(request, response)
    if (method === "GET") {
      const noneMatch = ifNoneMatch(headers["if-none-match"])
      if (headers["if-match"] !== undefined || noneMatch === invalid) return handOver(request, response)
      return get(exchangeOf(request, response, cors), store, key, noneMatch)
    }
    const expected = ifMatch(headers["if-match"])
    if (headers["if-none-match"] !== undefined || expected === invalid) return handOver(request, response)
    return del(exchangeOf(request, response, cors), store, key, expected)
  }
}
