/**
 * `@effect/platform-node` listens before it attaches its request listener, and Node drops a
 * request that no listener takes: one that arrives in between (a client reconnecting while the
 * server starts, as `effect-kv watch` does) would wait for ever. This holds such requests and
 * hands them to the listener once one is attached.
 */
import type * as Http from "node:http"

/** Returns how many requests are held now (for tests). */
export const holdEarlyRequests = (server: Http.Server): () => number => {
  let held: Array<readonly [Http.IncomingMessage, Http.ServerResponse]> = []
  const hold = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    if (server.listenerCount("request") === 1) held.push([request, response])
  }
  server.on("request", hold)
  server.on("newListener", (event) => {
    if (event !== "request" || held.length === 0) return
    // Emitted before the listener is added: replay once it is. A request that again finds no
    // other listener (one swapped for another meanwhile) is held again.
    setImmediate(() => {
      const replay = held
      held = []
      for (const [request, response] of replay) server.emit("request", request, response)
    })
  })
  return () => held.length
}
