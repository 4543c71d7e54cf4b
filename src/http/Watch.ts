/**
 * `GET /stores/{store}/watch`: a store's change feed as Server-Sent Events.
 *
 * ```text
 * id: 0
 *
 * id: 1
 * event: put
 * data: {"key":"ada","value":{"name":"Ada"},"version":1}
 *
 * : keep-alive
 * ```
 *
 * The stream opens with `id:` alone (no event): the version it starts after, so that a client that
 * reconnects before the first event still sends a `Last-Event-ID` that misses nothing. A watch
 * that cannot begin is refused with a status (400, 410, 503); once the stream runs, a watcher that
 * falls behind gets one `error` event and the end of the stream. Every open stream ends when the
 * server begins to drain, so that a shutdown does not wait for its watchers.
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { WatchLagged } from "../kv/Errors.js"
import type { Subscription } from "../kv/Feed.js"
import { KV } from "../kv/KV.js"
import type { Change, Delete, Put } from "../storage/Change.js"
import { KvApi } from "./Api.js"
import { fromKV } from "./Errors.js"

/**
 * How often an idle stream sends a comment line, so that proxies do not close it.
 *
 * @since 0.2.0
 * @category constants
 */
export const heartbeat: Duration.Duration = Duration.seconds(15)

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 */
export interface WatchOptions {
  /** Completes when the server begins to drain: every open stream then ends. */
  readonly closing: Effect.Effect<void>
  /** How often an idle stream sends a comment (default {@link heartbeat}). */
  readonly heartbeat?: Duration.DurationInput
}

const key = (change: { readonly key: string }) => `"key":${JSON.stringify(change.key)}`

const expiry = (expiresAt: number | undefined) => expiresAt === undefined ? "" : `,"expiresAt":${expiresAt}`

// `json` is the value as the store serialised it once (JSON.stringify: never a raw line break),
// so the data stays one `data:` line.
const putFields = (put: Put) => `${key(put)},"value":${put.json}${expiry(put.expiresAt)}`

const innerChange = (change: Put | Delete) =>
  change._tag === "Put" ? `{"op":"put",${putFields(change)}}` : `{"op":"delete",${key(change)}}`

const event = (name: string, version: number, data: string) => `id: ${version}\nevent: ${name}\ndata: ${data}\n\n`

/**
 * One change as one event.
 *
 * @since 0.2.0
 * @category utils
 */
export const eventOf = (change: Change): string => {
  const version = change.version
  switch (change._tag) {
    case "Put":
      return event("put", version, `{${putFields(change)},"version":${version}}`)
    case "Delete":
      return event("delete", version, `{${key(change)},"version":${version}}`)
    case "Expire":
      return event("expire", version, `{${key(change)},"version":${version}}`)
    case "Clear":
      return event("clear", version, `{"version":${version}}`)
    case "Touch":
      return event("touch", version, `{${key(change)},"version":${version},"expiresAt":${change.expiresAt ?? null}}`)
    case "Atomic":
      return event("atomic", version, `{"version":${version},"changes":[${change.changes.map(innerChange).join(",")}]}`)
  }
}

const encoder = new TextEncoder()

const errorEvent = (error: WatchLagged) =>
  encoder.encode(`event: error\ndata: ${JSON.stringify({ error: error._tag, message: error.message })}\n\n`)

const keepAlive = encoder.encode(": keep-alive\n\n")

// A pulled batch's events as the bytes one write sends. The watchers that keep up read one shared
// chunk (see `Feed`): the first formats and encodes it, the others take its bytes. With 100
// watchers each formatting its own, formatting was about 40% of what a batch cost them.
const formatted = new WeakMap<Chunk.Chunk<Change>, Uint8Array>()

const eventsOf = (changes: Chunk.Chunk<Change>): Uint8Array => {
  let bytes = formatted.get(changes)
  if (bytes === undefined) {
    bytes = encoder.encode(Chunk.join(Chunk.map(changes, eventOf), ""))
    formatted.set(changes, bytes)
  }
  return bytes
}

/**
 * A watch's response body: its opening `id:`, each pulled batch as one write, a comment every
 * `every`, until the watch ends (after an `error` event if it fell behind) or `closing` completes.
 * One bounded queue fed by a fiber each: `Stream.merge` (the comments) and `Stream.interruptWhen`
 * (the drain) raced every batch on fibers of their own, 340–370 µs a batch per watcher where this
 * takes 34–53 µs (scratch run of 100 watchers of one feed, batches of 100 changes, by CPU time).
 */
const body = (
  subscription: Subscription,
  every: Duration.DurationInput,
  closing: Effect.Effect<void>
): Stream.Stream<Uint8Array> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    // `null` ends the stream after what was queued before it; shutting the queue down ends it at once.
    const queue = yield* Queue.bounded<Uint8Array | null>(16)
    yield* Queue.offer(queue, encoder.encode(`id: ${subscription.since}\n\n`))
    const pump: Effect.Effect<void> = Effect.flatMap(
      subscription.pull,
      (changes) => Effect.zipRight(Queue.offer(queue, eventsOf(changes)), pump)
    ).pipe(Effect.catchAll(Option.match({
      onNone: () => Queue.offer(queue, null),
      onSome: (lagged) => Effect.zipRight(Queue.offer(queue, errorEvent(lagged)), Queue.offer(queue, null))
    })))
    yield* Effect.forkScoped(pump)
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(every), Queue.offer(queue, keepAlive))))
    yield* Effect.forkScoped(Effect.zipRight(closing, Queue.shutdown(queue)))
    return Stream.takeWhile(Stream.fromQueue(queue), (bytes): bytes is Uint8Array => bytes !== null)
  }))

/**
 * The handler of the `watch` group, on the `KV` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: WatchOptions) =>
  HttpApiBuilder.group(KvApi, "watch", (handlers) =>
    Effect.map(KV, (kv) =>
      handlers.handle("watch", ({ headers, path, urlParams }) =>
        // Subscribed in the request's scope, which lasts as long as the response's body streams.
        Effect.map(
          Effect.mapError(
            kv.subscribe(path.store, {
              ...(urlParams.prefix === undefined ? {} : { prefix: urlParams.prefix }),
              ...(headers["last-event-id"] ?? urlParams.since) === undefined
                ? {}
                : { since: headers["last-event-id"] ?? urlParams.since }
            }),
            fromKV
          ),
          (subscription) =>
            HttpServerResponse.stream(body(subscription, options.heartbeat ?? heartbeat, options.closing), {
              contentType: "text/event-stream",
              // The connection is the stream's until it ends, and a client then reconnects anew:
              // no keep-alive, so a draining server need not wait for it to idle out.
              headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "close" }
            })
        ))))
