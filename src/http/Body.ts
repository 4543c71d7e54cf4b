/**
 * Reading a request's body as one value: JSON, or text as a JSON string; within a size limit,
 * and within a budget of bytes that all requests may be reading and parsing at once.
 *
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { checkJsonText } from "../kv/Limits.js"
import { BadRequest, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType } from "./Errors.js"
import * as Budget from "./internal/budget.js"

/**
 * The default limit on a request body: 1 MiB.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultMaxBodyBytes = 1024 * 1024

/**
 * The default budget of bytes of large bodies being read and parsed at once: 4 MiB.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaultMaxBodyBytesInFlight = 4 * 1024 * 1024

/**
 * Bodies this small (64 KiB) skip the budget of bytes in flight: a count of connections bounds
 * them, and they are the hot path.
 *
 * @since 0.2.0
 * @category constructors
 */
export const smallBody = 64 * 1024

const jsonType = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i
const textType = /^text\/plain\s*(;|$)/i
const formType = /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i
const otherCharset = /;\s*charset\s*=\s*"?(?!utf-8|us-ascii)[^";\s]+/i
const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * What a body holds, by its `Content-Type`.
 *
 * @since 0.2.0
 * @category models
 */
export type BodyKind = "json" | "text"

/**
 * What a body of `contentType` holds: JSON (`application/json`, `application/*+json`, or no
 * type) or text (`text/plain` in UTF-8); any other type is refused with 415.
 *
 * @since 0.2.0
 * @category utils
 */
export const kindOf = (contentType: string | undefined): Either.Either<BodyKind, UnsupportedMediaType> => {
  if (contentType === undefined || jsonType.test(contentType)) return Either.right("json")
  if (textType.test(contentType)) {
    return otherCharset.test(contentType)
      ? Either.left(unsupported(`${contentType.slice(0, 100)} is not UTF-8; send the text as UTF-8 ("Content-Type: text/plain; charset=utf-8")`))
      : Either.right("text")
  }
  if (formType.test(contentType)) {
    return Either.left(unsupported(
      `the body is a form (${contentType.split(";")[0]}), which is what curl -d sends; send JSON with ` +
        `curl --json '<value>' (or "Content-Type: application/json"), or text with "Content-Type: text/plain"`
    ))
  }
  return Either.left(unsupported(
    `the body is ${contentType.slice(0, 100)}; send JSON with "Content-Type: application/json", ` +
      `or text (stored as a JSON string) with "Content-Type: text/plain"`
  ))
}

const unsupported = (message: string) => new UnsupportedMediaType({ error: "UnsupportedMediaType", message })

/**
 * The body as a value. A JSON body (`application/json`, `application/*+json`, or no
 * `Content-Type`) is parsed, refusing numbers that JSON text holds but a double cannot
 * (`InvalidValue`); a `text/plain` body is the string it holds. Another type fails with 415, a
 * body over `maxBytes` with 413 (by its `Content-Length` before anything is read, else once
 * reading passes it; that response closes the connection), a body that is not UTF-8 or not JSON
 * with 400.
 *
 * @since 0.1.0
 * @category utils
 */
export const readValue = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<unknown, BadRequest | PayloadTooLarge | UnsupportedMediaType> => {
  const kind = kindOf(request.headers["content-type"])
  if (Either.isLeft(kind)) return Effect.fail(kind.left)
  if (Number(request.headers["content-length"] ?? 0) > maxBytes) return Effect.fail(tooLarge(maxBytes))
  return Effect.flatMap(readBytes(request, maxBytes), (body) => decodeBody(body, kind.right))
}

/**
 * Runs `use` (which reads the body) once the body's bytes fit in the server's budget of bytes
 * being read and parsed at once: many large bodies then wait their turn instead of each taking
 * its many copies of memory together. A body without a length counts as `maxBytes`. A body whose
 * turn has not come within `timeout` is refused with 503 `Overloaded`: nothing was read or done,
 * retry it.
 *
 * @since 0.2.0
 * @category utils
 */
export const withinBudget = (maxBytesInFlight: number, maxBytes: number, timeout: Duration.DurationInput) => {
  const budget = Budget.make(maxBytesInFlight)
  const timeoutMillis = Duration.toMillis(Duration.decode(timeout))
  const overloaded = () =>
    new ServiceUnavailable({
      error: "Overloaded",
      message: `the server is reading as many large bodies as it holds at once (${maxBytesInFlight} bytes), and this ` +
        `one did not get its turn within ${timeoutMillis} ms; nothing was done: retry after Retry-After seconds`
    })
  return <A, E, R>(
    request: HttpServerRequest.HttpServerRequest,
    use: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ServiceUnavailable, R> => {
    const length = request.headers["content-length"]
    const bytes = length === undefined ? maxBytes : Number(length)
    if (bytes <= smallBody || bytes > maxBytes) return use
    return budget.use(Math.min(bytes, maxBytesInFlight), timeoutMillis, overloaded, use)
  }
}

const tooLarge = (maxBytes: number) =>
  new PayloadTooLarge({
    error: "PayloadTooLarge",
    message: `the body is over the limit of ${maxBytes} bytes; store the value in parts`
  })

/**
 * The body's bytes, one copy: chunks are kept as they come and joined once. Past `maxBytes`
 * reading stops and nothing more is kept.
 */
const readBytes = (request: HttpServerRequest.HttpServerRequest, maxBytes: number) =>
  Effect.async<Buffer, PayloadTooLarge>((resume) => {
    const incoming = NodeHttpServerRequest.toIncomingMessage(request)
    const chunks: Array<Buffer> = []
    let total = 0
    const stop = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
    }
    const onData = (chunk: Buffer) => {
      total += chunk.length
      if (total > maxBytes) {
        stop()
        chunks.length = 0
        resume(Effect.fail(tooLarge(maxBytes)))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)))
    }
    incoming.on("data", onData)
    incoming.on("end", onEnd)
    // A client that goes away leaves the request to be interrupted by the platform.
    return Effect.sync(stop)
  })

const invalidJson = (message: string) => new BadRequest({ error: "InvalidJson", message })

/**
 * A whole body's bytes as the value it holds: its text for `text`, the JSON it parses to for
 * `json` (refusing numbers that a double cannot hold); 400 for bytes that are not UTF-8 or not JSON.
 *
 * @since 0.2.0
 * @category utils
 */
export const decodeBody = (body: Buffer, kind: BodyKind): Either.Either<unknown, BadRequest> => {
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return Either.left(invalidJson(
      kind === "json" ? "the body is not valid UTF-8; send JSON encoded as UTF-8" : "the body is not valid UTF-8; send text as UTF-8"
    ))
  }
  if (kind === "text") return Either.right(text)
  if (text.length === 0) return Either.left(invalidJson("the body is empty; send a JSON value such as {} or null"))
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(invalidJson(
      `the body is not JSON (${reason}); send one JSON value, or plain text with "Content-Type: text/plain"`
    ))
  }
  const numbers = checkJsonText(text)
  return Either.isLeft(numbers)
    ? Either.left(new BadRequest({ error: "InvalidValue", message: numbers.left.message }))
    : Either.right(value)
}
