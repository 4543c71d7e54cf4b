/**
 * Reading a request's body as one JSON value, within a size limit.
 *
 * @since 0.1.0
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { BadRequest, PayloadTooLarge, UnsupportedMediaType } from "./Errors.js"

/** The default limit on a request body: 1 MiB. */
export const defaultMaxBodyBytes = 1024 * 1024

const jsonType = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i
const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * The body as a JSON value. A body without `Content-Type` is taken as JSON; another type fails
 * with 415, a body over `maxBytes` with 413 (by its `Content-Length`, before anything is read),
 * a body that is not UTF-8 JSON with 400. A body sent without a length is read up to `maxBytes`;
 * past it the platform closes the connection, so that client sees no 413.
 */
export const readJson = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<unknown, BadRequest | PayloadTooLarge | UnsupportedMediaType> => {
  const contentType = request.headers["content-type"]
  if (contentType !== undefined && !jsonType.test(contentType)) {
    return Effect.fail(
      new UnsupportedMediaType({
        error: "UnsupportedMediaType",
        message: `the body is ${contentType.slice(0, 100)}; send JSON with "Content-Type: application/json"`
      })
    )
  }
  // Made only when needed: an error captures a stack trace.
  const tooLarge = () =>
    new PayloadTooLarge({
      error: "PayloadTooLarge",
      message: `the body is over the limit of ${maxBytes} bytes; store the value in parts`
    })
  if (Number(request.headers["content-length"] ?? 0) > maxBytes) return Effect.fail(tooLarge())
  return request.arrayBuffer.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(maxBytes)),
    // Without a Content-Length, going over the limit is the only way reading fails with a client still there.
    Effect.mapError(tooLarge),
    Effect.flatMap(parseJson)
  )
}

const invalidJson = (message: string) => new BadRequest({ error: "InvalidJson", message })

const parseJson = (body: ArrayBuffer): Effect.Effect<unknown, BadRequest> => {
  if (body.byteLength === 0) return Effect.fail(invalidJson("the body is empty; send a JSON value such as {} or null"))
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return Effect.fail(invalidJson("the body is not valid UTF-8; send JSON encoded as UTF-8"))
  }
  try {
    return Effect.succeed(JSON.parse(text))
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Effect.fail(invalidJson(`the body is not JSON (${reason}); send one JSON value`))
  }
}
