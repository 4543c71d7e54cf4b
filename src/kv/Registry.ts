/**
 * The registry of named stores (the tutorial's part 2 "cache"): how `KV` finds a store by name,
 * whichever incarnation of the tree's `stores` child runs it.
 *
 * - A running store is found in the tree's table of store names with one `Map` lookup: no fiber
 *   and no scope per read.
 * - Anything else (a first use, a store restarting, closing or given up on) goes to the `stores`
 *   child that runs now; see `Stores` for what it does. While that child is being restarted by the
 *   tree, such calls fail at once with `ServerStopped` (retry), rather than wait for a restart
 *   that may itself wait for them to end.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as OtpRegistry from "../otp/Registry.js"
import type { ServerStopped } from "../otp/Server.js"
import type * as Store from "./Store.js"
import * as Stores from "./Stores.js"

/**
 * Why a store could not be reached.
 *
 * @since 0.1.0
 * @category errors
 */
export type LookupError = Stores.LookupError

/**
 * Running stores by name.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  /**
   * The running store of that name if a call can use it at once (one `Map` lookup), else
   * `undefined`: it must be found with {@link lookup}, which may wait.
   *
   * @since 0.2.0
   */
  readonly find: (name: string) => Store.Store | undefined
  /** The running store of that name, started (and recovered) first if need be. */
  readonly lookup: (name: string) => Effect.Effect<Store.Store, LookupError>
  /** Names of the running stores, sorted. */
  readonly running: Effect.Effect<ReadonlyArray<string>>
  /**
   * The running store of that name, if one runs; never starts one, nor counts as a use of it.
   *
   * @since 0.2.0
   */
  readonly unsafeFind: (name: string) => Store.Store | undefined
  /**
   * Stops the store and runs `remove` while none of that name may start (see `Stores.drop`).
   *
   * @since 0.2.0
   */
  readonly drop: <E>(name: string, remove: Effect.Effect<void, E>) => Effect.Effect<void, E>
  /** Starts a store that failed past its restart intensity again (or at all, if it was not running). */
  readonly restart: (name: string) => Effect.Effect<void, LookupError>
}

/**
 * The registry over `names`, the tree's table of store names, and `current`, which finds the
 * `stores` child that runs now or fails with `ServerStopped` while it is being restarted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  names: OtpRegistry.Registry<Stores.Running>,
  current: Effect.Effect<Stores.Stores, ServerStopped>
): Registry => ({
  find: (name) => Stores.usableStore(names.unsafeLookup(name)),
  lookup: (name) =>
    Stores.usable(names.unsafeLookup(name)) ?? Effect.flatMap(current, (stores) => stores.lookup(name)),
  running: names.names,
  unsafeFind: (name) => names.unsafeLookup(name)?.store,
  // No `stores` child runs, so no store does: there is nothing to stop before `remove`.
  drop: (name, remove) =>
    Effect.flatMap(Effect.option(current), (stores) => stores._tag === "Some" ? stores.value.drop(name, remove) : remove),
  restart: (name) => Effect.flatMap(current, (stores) => stores.restart(name))
})
