/**
 * A request that reaches the server after it listens but before its request listener is attached
 * (as `@effect/platform-node` starts a server) is answered once the listener comes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Http from "node:http"
import { holdEarlyRequests } from "../../../src/http/internal/holdEarly.js"

const listening = Effect.acquireRelease(
  Effect.async<Http.Server>((resume) => {
    const server = Http.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
)

const get = (server: Http.Server) =>
  Effect.async<string>((resume) => {
    const { port } = server.address() as { port: number }
    Http.get({ host: "127.0.0.1", port, path: "/early" }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => body += chunk)
      response.on("end", () => resume(Effect.succeed(`${response.statusCode} ${body}`)))
    })
  })

describe("holdEarlyRequests", () => {
  it.scopedLive("holds a request that comes before the request listener, then hands it over", () =>
    Effect.gen(function*() {
      const server = yield* listening
      const held = holdEarlyRequests(server)
      const answer = yield* Effect.fork(get(server))
      yield* Effect.sync(held).pipe(
        Effect.filterOrFail((count) => count === 1),
        Effect.retry(Schedule.spaced("5 millis"))
      )
      server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) =>
        response.end(`took ${request.url}`)
      )
      expect(yield* answer.await.pipe(Effect.flatten)).toBe("200 took /early")
      expect(held()).toBe(0)
      // Once a listener is there, nothing more is held.
      expect(yield* get(server)).toBe("200 took /early")
      expect(held()).toBe(0)
    }))
})
