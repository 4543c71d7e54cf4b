/**
 * Test helpers: a real server on a free port of 127.0.0.1, and two real clients — `fetch`, and
 * `node:http` for paths that `fetch` would normalise (`..`, `%2e%2e`) before sending.
 */
import { HttpServer } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import * as Http from "node:http"
import { KV } from "../../src/kv/KV.js"
import * as Server from "../../src/http/Server.js"

/** Starts the server in the current scope on `kv` (memory by default); returns its base URL. */
export const serve = (options: Server.ServerOptions = {}, kv: Layer.Layer<KV, unknown> = KV.layerMemory()) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Server.layer({ port: 0, ...options }).pipe(Layer.provide(kv)))
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return `http://${address.hostname}:${address.port}`
  })

/** What a test looks at in a response. */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body parsed, when it is JSON. */
  readonly json: unknown
}

const toReply = (status: number, headers: Headers, text: string): Reply => ({
  status,
  headers,
  text,
  json: /^application\/json/.test(headers.get("content-type") ?? "") ? JSON.parse(text) : undefined
})

/** A request with `fetch`: `body` goes as JSON, `raw` as it is (with the `Content-Type` in `headers`). */
export const request = (
  base: string,
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly raw?: string; readonly headers?: Record<string, string> } = {}
) =>
  Effect.promise(async () => {
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
    const response = await fetch(base + path, {
      method,
      headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      ...(body === undefined ? {} : { body })
    })
    return toReply(response.status, response.headers, await response.text())
  })

/** A request with `node:http`: the path goes out byte for byte, as written. */
export const rawRequest = (
  base: string,
  method: string,
  path: string,
  options: { readonly body?: string | Buffer; readonly headers?: Record<string, string> } = {}
) =>
  Effect.async<Reply>((resume) => {
    const request = Http.request(base, { method, path, headers: options.headers ?? {}, agent: false }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => {
        const headers = new Headers()
        for (const [name, value] of Object.entries(response.headers)) {
          if (typeof value === "string") headers.set(name, value)
        }
        resume(Effect.succeed(toReply(response.statusCode ?? 0, headers, Buffer.concat(chunks).toString("utf8"))))
      })
    })
    request.on("error", (error) => resume(Effect.die(error)))
    request.end(options.body)
  })

/** A store name or key as a path segment. */
export const segment = encodeURIComponent
