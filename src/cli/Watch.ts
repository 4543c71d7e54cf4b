/**
 * `watch STORE`: prints a store's changes as they happen, one JSON line each, from the server's
 * event stream (`GET /stores/{store}/watch`); reconnects by itself, from the last version it
 * printed, when the connection drops or the server restarts.
 *
 * @since 0.2.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Client from "./Client.js"
import * as ClientCommands from "./ClientCommands.js"
import { RequestFailed } from "./Errors.js"
import { printLine } from "./Output.js"

/**
 * One block of an event stream: the fields between two blank lines.
 *
 * @since 0.2.0
 * @category models
 */
export interface EventBlock {
  readonly id?: string
  readonly event?: string
  readonly data?: string
}

/**
 * The blocks of an event stream given as lines (comments dropped).
 *
 * @since 0.2.0
 * @category utils
 */
export const eventBlocks = <E, R>(lines: Stream.Stream<string, E, R>): Stream.Stream<EventBlock, E, R> =>
  lines.pipe(
    Stream.mapAccum({} as EventBlock, (block, line): readonly [EventBlock, Option.Option<EventBlock>] => {
      if (line === "") return [{}, Object.keys(block).length === 0 ? Option.none() : Option.some(block)]
      const colon = line.indexOf(":")
      if (colon <= 0) return [block, Option.none()]
      const field = line.slice(0, colon)
      const value = line.slice(colon + 1).replace(/^ /, "")
      if (field === "id" || field === "event") return [{ ...block, [field]: value }, Option.none()]
      if (field === "data") {
        return [{ ...block, data: block.data === undefined ? value : `${block.data}\n${value}` }, Option.none()]
      }
      return [block, Option.none()]
    }),
    Stream.filterMap((block) => block)
  )

/** How a connection ended without a failure. */
type Ending = "ended" | "lagged"

// Waits between attempts to reach the server again, doubling up to the longest.
const firstDelayMillis = 100
const longestDelayMillis = 2000

/**
 * Prints every change of `store` after `since` (or from now), as one JSON line each, until the
 * command is stopped: `{"event":"put","key":…,"value":…,"version":n}`.
 *
 * @since 0.2.0
 * @category utils
 */
export const follow = (
  connection: Client.Connection,
  store: string,
  options: { readonly prefix: string; readonly since: number | undefined }
): Effect.Effect<never, Client.ClientError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    let last = options.since
    let connected = false
    let delay = firstDelayMillis
    const path = () => {
      const query = new URLSearchParams()
      if (options.prefix !== "") query.set("prefix", options.prefix)
      if (last !== undefined) query.set("since", String(last))
      const search = query.toString()
      return `/stores/${encodeURIComponent(store)}/watch${search === "" ? "" : `?${search}`}`
    }
    const connect = () => Client.getLines(connection, path()).pipe(
      eventBlocks,
      Stream.runFoldEffect("ended" as Ending, (ending, block) =>
        Effect.suspend(() => {
          connected = true
          delay = firstDelayMillis
          if (block.event === "error") return errorEvent(block.data)
          // `id:` alone opens the stream: the version it starts after.
          const print = block.event !== undefined && block.data?.startsWith("{")
            ? printLine(`{"event":${JSON.stringify(block.event)},${block.data.slice(1)}`)
            : Effect.void
          return Effect.as(print, ending).pipe(Effect.tap(() => {
            if (block.id !== undefined) last = Number(block.id)
          }))
        }))
    )
    while (true) {
      const outcome = yield* Effect.either(connect())
      if (outcome._tag === "Left") {
        const error = outcome.left
        // A server never reached is a mistake to report; one that goes away is waited for.
        if (!connected || !retryable(error)) return yield* Effect.fail(error)
        yield* Console.error(`connection lost (${error.message}); reconnecting after version ${last ?? "none"}`)
      }
      yield* Effect.sleep(delay)
      delay = Math.min(delay * 2, longestDelayMillis)
    }
  })

// The stream says why it ends: a watcher that fell behind goes on from its last version.
const errorEvent = (data: string | undefined): Effect.Effect<Ending, RequestFailed> => {
  const body = parseErrorBody(data)
  return body.error === "WatchLagged" ? Effect.succeed("lagged") : Effect.fail(new RequestFailed(body))
}

const parseErrorBody = (data: string | undefined): { readonly error: string; readonly reason: string } => {
  try {
    const parsed = JSON.parse(data ?? "") as { error?: unknown; message?: unknown }
    if (typeof parsed.error === "string" && typeof parsed.message === "string") {
      return { error: parsed.error, reason: parsed.message }
    }
  } catch {
    // Not JSON: reported as a bad answer below.
  }
  return { error: "BadResponse", reason: `unexpected error event: ${data ?? ""}` }
}

// The server is down or restarting (5xx, or no answer at all): worth waiting for.
const retryable = (error: Client.ClientError): boolean =>
  error._tag === "ServerUnreachable" || (error.status !== undefined && error.status >= 500)

/**
 * `watch STORE`: the store's changes, one JSON line each, until stopped.
 *
 * @since 0.2.0
 * @category commands
 */
export const watch = Command.make("watch", {
  store: ClientCommands.store,
  connection: Client.connectionOptions,
  prefix: ClientCommands.prefix("Only changes to keys that start with this (every clear is printed)."),
  since: Options.integer("since").pipe(
    Options.withPseudoName("VERSION"),
    Options.filterMap(Option.liftPredicate((since) => since >= 0), "--since must be a version, 0 or more"),
    Options.withDescription(
      "First print every change after this version (0: all the history the server holds), then go on live. " +
        "Default: only changes from now on."
    ),
    Options.optional
  )
}, (args) =>
  follow(args.connection, args.store, { prefix: args.prefix, since: Option.getOrUndefined(args.since) }).pipe(
    Effect.provide(NodeHttpClient.layer)
  )).pipe(
    Command.withDescription(
      "Prints the changes of STORE as they happen, one JSON object a line: {\"event\":\"put\",\"key\",\"value\",\"version\"}, " +
        "delete, clear, expire, touch or atomic. Reconnects by itself from the last version printed; stops on Ctrl-C."
    )
  )
