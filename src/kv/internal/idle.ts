/**
 * Closing stores left idle, modeled on Effect's `RcMap` with `idleTimeToLive`: a store is held
 * open while writes to it are in flight (RcMap's reference count) and closed once it has gone
 * unused for the idle timeout (RcMap's `expiresAt`). It is not an `RcMap` because:
 *
 * - `RcMap.get` adds a finalizer to the caller's scope: a scope per read and per write, where a
 *   read must stay one `Map` lookup. Here a read or write sets a flag, and the store's server
 *   counts the writes in flight.
 * - `RcMap` keeps a failed acquisition in its entry until it idles out, and holds no notion of a
 *   resource given up on; a store that fails to open is tried again on next use, and one whose
 *   supervisor gave up fails with `StoreFailed` until `restartStore`.
 * - `RcMap` forks a timer fiber per entry released and reads the clock on every release; one sweep
 *   per timeout closes every store unused since the previous sweep, so a store closes between one
 *   and two timeouts after its last use, with no clock read on the hot path.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ServerStopped } from "../../otp/Server.js"
import type { StorageFailure } from "../../storage/Errors.js"
import type { StoreFailed } from "../Errors.js"
import type * as Store from "../Store.js"
import * as Deadline from "./deadline.js"

/** How a running store is used. */
export interface Usage {
  /** Set by every use; the sweep clears it, and closes the store if it finds it clear. */
  used: boolean
  /** Writes sent and not yet answered (the store's server counts them): a store with any is not closed. */
  readonly inFlight: () => number
  /** Set when the store is being closed: writes then go to the store that replaces it. */
  closing: boolean
}

/** The usage of `store`, which has just started. */
export const make = (store: Store.Store): Usage => ({ used: true, inFlight: store.server.pendingCalls, closing: false })

/**
 * `store` with each write marking it used; a write that finds the store closing goes to the store
 * that `reopen` finds instead. Its writes in flight are the server's own count of calls not yet
 * answered: an `Effect.ensuring` per write to count them here took 2 effects of bookkeeping and
 * an uninterruptible region per durable put.
 */
export const trackWrites = (
  name: string,
  store: Store.Store,
  usage: Usage,
  reopen: Effect.Effect<Store.Store, StorageFailure | StoreFailed | ServerStopped>,
  waits: Deadline.Waits
): Store.Store => ({
  ...store,
  server: {
    ...store.server,
    call: (write, callOptions) =>
      Effect.suspend(() => {
        usage.used = true
        if (usage.closing) {
          // The wait for the store that replaces it counts against the call's timeout.
          const reopened = Effect.catchTag(reopen, "StoreFailed", (failure) =>
            Effect.fail(new ServerStopped({ server: `store:${name}`, reason: failure.message, taken: false })))
          const timeoutMillis = Deadline.millisOf(callOptions?.timeout)
          return waits.afterWait(name, timeoutMillis, reopened, (current, left) => current.server.call(write, left))
        }
        return store.server.call(write, callOptions)
      })
  }
})

/** Whether the sweep should close a store used as `usage` says; it starts the next period either way. */
const idleSince = (usage: Usage): boolean => {
  if (usage.used || usage.inFlight() > 0) {
    usage.used = false
    return false
  }
  return true
}

/**
 * Every `idleTimeout`, closes each of the `running` stores that went unused since the previous
 * sweep and has no write in flight. Runs until interrupted; with an infinite timeout, never sweeps.
 * Before each period it waits on `untilAnyRuns` (for a store to run, if none does): an idle `KV`
 * does not wake every timeout for nothing, and a `TestClock` moved a year on does not step
 * through 105,120 sweeps of 5 minutes.
 */
export const sweep = (
  idleTimeout: Duration.Duration,
  running: Effect.Effect<Iterable<readonly [string, Usage]>>,
  close: (name: string) => Effect.Effect<void>,
  untilAnyRuns: Effect.Effect<void>
): Effect.Effect<void> => {
  if (!Duration.isFinite(idleTimeout)) return Effect.void
  const closeIdle = Effect.flatMap(running, (stores) =>
    Effect.forEach(stores, ([name, usage]) =>
      idleSince(usage)
        ? Effect.zipRight(
          Effect.logDebug(`closing store "${name}": unused for ${Duration.format(idleTimeout)}`),
          close(name)
        )
        : Effect.void, { discard: true }))
  return Effect.forever(untilAnyRuns.pipe(Effect.zipRight(Effect.sleep(idleTimeout)), Effect.zipRight(closeIdle)))
}
