/**
 * Answers for requests that Node's HTTP parser refuses before any handler sees them (bad chunked
 * encoding, conflicting lengths, oversized headers, raw bytes in the path, a slow request): the
 * same JSON error body as every other error, where Node would send an empty 400.
 */
import type * as Net from "node:net"

/** Node's parser errors carry their llhttp code and a short reason. */
interface ParserError extends Error {
  readonly code?: string
  readonly reason?: string
}

interface Answer {
  readonly status: number
  readonly statusText: string
  readonly error: string
  readonly message: string
}

const badRequest = (message: string): Answer => ({ status: 400, statusText: "Bad Request", error: "InvalidRequest", message })

/** The answer to a parser error, or `undefined` when there is no client left to answer. */
export const answerFor = (error: ParserError): Answer | undefined => {
  const reason = error.reason ?? error.message
  switch (error.code) {
    case "ECONNRESET":
    case "EPIPE":
      return undefined
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        statusText: "Request Header Fields Too Large",
        error: "HeadersTooLarge",
        message: "the request line and headers are over the server's limit of 16 KiB; send shorter ones " +
          "(a key is at most 1 KiB of UTF-8, however it is percent-encoded)"
      }
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return {
        status: 408,
        statusText: "Request Timeout",
        error: "RequestTimeout",
        message: "the request did not arrive whole in time; send it again without pausing"
      }
    case "HPE_INVALID_URL":
      return badRequest(
        "the path holds a character that must be percent-encoded (a space, a control character or a byte over 0x7F); " +
          "encode store names and keys with encodeURIComponent"
      )
    case "HPE_INVALID_TRANSFER_ENCODING":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return badRequest(
        /duplicate/i.test(reason)
          ? "the request has more than one Content-Length; send one"
          : /transfer-encoding/i.test(reason)
          ? "the request has both Content-Length and Transfer-Encoding; send one of them"
          : `the request's length is unclear (${reason}); send one Content-Length, or Transfer-Encoding: chunked`
      )
    default:
      if (error.code?.startsWith("HPE_INVALID_CHUNK") === true || error.code === "HPE_STRICT") {
        return badRequest(`the chunked body is malformed (${reason}); send valid chunks, or the body with a Content-Length`)
      }
      return badRequest(`the request is not valid HTTP/1.1 (${reason}); check the request line, headers and body`)
  }
}

/**
 * A `clientError` listener for Node's `http.Server`: writes the JSON answer straight to the
 * socket (there is no request or response object yet), unless a response has begun on it, then
 * closes the connection, as Node's own listener does.
 */
export const onClientError = (error: ParserError, socket: Net.Socket): void => {
  const answer = answerFor(error)
  const current = (socket as { readonly _httpMessage?: { readonly headersSent?: boolean } | null })._httpMessage
  if (answer === undefined || !socket.writable || current?.headersSent === true) {
    socket.destroy()
    return
  }
  const body = JSON.stringify({ error: answer.error, message: answer.message })
  socket.end(
    `HTTP/1.1 ${answer.status} ${answer.statusText}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" + body,
    () => socket.destroy()
  )
}
