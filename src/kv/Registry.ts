/**
 * The registry of named stores (the tutorial's part 2 "cache"), built on the OTP toolkit. Each
 * store runs under a supervisor of its own, `store:<name>` (one child, the store's server), which
 * is a temporary child of the dynamic supervisor of stores; the running store holds its name in
 * an OTP `Registry`.
 *
 * - A store is started on first use, recovering its state from its log; concurrent first uses of
 *   one name start exactly one store.
 * - A running store is found with one `Map` lookup: no fiber and no scope per read.
 * - A store whose handler dies is restarted by its supervisor, from its log. Callers in flight get
 *   `ServerStopped`; calls that arrive during the restart wait for the restarted store. No other
 *   store notices.
 * - A store that needs more restarts than its intensity allows (by default more than 3 within
 *   5 seconds) is given up on: every call to it fails with `StoreFailed` until {@link Registry.restart}.
 * - A store not used for `idleTimeout` (default 5 minutes) is closed, its log too, and reopened on
 *   next use, so thousands of stores do not hold thousands of files open. A write in flight keeps
 *   its store open; a write that meets a store being closed waits for it to reopen.
 * - Each restart is logged by the store's supervisor, with the store's name and the reason, and
 *   counted in {@link storeRestarts}.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as DynamicSupervisor from "../otp/DynamicSupervisor.js"
import type * as OtpRegistry from "../otp/Registry.js"
import { ServerStopped } from "../otp/Server.js"
import * as Supervisor from "../otp/Supervisor.js"
import type { StorageFailure } from "../storage/Errors.js"
import { Storage } from "../storage/Storage.js"
import { StoreFailed } from "./Errors.js"
import * as Store from "./Store.js"

/** Why a store could not be reached. */
export type LookupError = StorageFailure | StoreFailed

/** Running stores by name. */
export interface Registry {
  /** The running store of that name, started (and recovered) first if need be. */
  readonly lookup: (name: string) => Effect.Effect<Store.Store, LookupError>
  /** Names of the running stores, sorted. */
  readonly running: Effect.Effect<ReadonlyArray<string>>
  /** Stops the store if it runs, and waits until its log is closed; forgets that it failed. */
  readonly stop: (name: string) => Effect.Effect<void>
  /** Starts a store that failed past its restart intensity again (or at all, if it was not running). */
  readonly restart: (name: string) => Effect.Effect<void, LookupError>
}

/** How stores are restarted: at most `maxRestarts` within `period`, spaced by `backoff`. */
export type StoreRestarts = Omit<Supervisor.RestartOptions, "name">

/** Options of {@link make}. */
export interface RegistryOptions extends Store.StoreOptions {
  /** Closes a store not used for this long, and reopens it on next use (default 5 minutes). */
  readonly idleTimeout?: Duration.DurationInput
  /** Each store's restart intensity (default OTP's: more than 3 restarts in 5 seconds fail it). */
  readonly storeRestarts?: StoreRestarts
}

export const defaultIdleTimeout: Duration.Duration = Duration.minutes(5)

/** How many times stores were restarted after a crash. */
export const storeRestarts = Metric.counter("effect_kv_store_restarts", {
  description: "stores restarted by their supervisor after their handler died",
  incremental: true
})

/** A running store as it holds its name: the store, how it is used, and when it is gone. */
export interface Running extends Supervisor.Child {
  readonly store: Store.Store
  readonly usage: Usage
  /** Completes once the store has stopped, released its name and closed its log. */
  readonly gone: Deferred.Deferred<void>
}

interface Usage {
  /** Set by every use; the idle sweep clears it, and closes the store if it finds it clear. */
  used: boolean
  /** Writes sent and not yet answered: a store with any is not closed. */
  inFlight: number
  /** Set when the store is being closed: uses then wait for it to reopen. */
  closing: boolean
}

/** A store name whose supervisor is starting or running. */
interface Slot {
  /** Succeeds when the store was closed, fails when it could not start or was given up on. */
  readonly ended: Deferred.Deferred<void, LookupError>
  supervisor: Supervisor.Supervisor<StorageFailure> | undefined
}

/**
 * Makes a registry that starts stores under `supervisor` and finds them by name in `names`;
 * the idle sweep lives as long as the current scope.
 */
export const make = (
  options: RegistryOptions,
  names: OtpRegistry.Registry<Running>,
  supervisor: DynamicSupervisor.DynamicSupervisor
): Effect.Effect<Registry, never, Storage | Scope.Scope> =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const scope = yield* Effect.scope
    const slots = new Map<string, Slot>()
    const failed = new Map<string, StoreFailed>()
    const idleTimeout = Duration.decode(options.idleTimeout ?? defaultIdleTimeout)

    const usable = (running: Running) => !running.usage.closing && running.store.server.isRunning()

    const lookup = (name: string): Effect.Effect<Store.Store, LookupError> => {
      const running = names.unsafeLookup(name)
      if (running !== undefined && usable(running)) {
        running.usage.used = true
        return Effect.succeed(running.store)
      }
      return Effect.suspend(() => find(name))
    }

    // The slow path: wait for a store that is on its way out, starting or restarting; or start it.
    const find = (name: string): Effect.Effect<Store.Store, LookupError> => {
      const running = names.unsafeLookup(name)
      if (running !== undefined) {
        if (usable(running)) return lookup(name)
        return Effect.zipRight(Deferred.await(running.gone), Effect.suspend(() => lookup(name)))
      }
      const failure = failed.get(name)
      if (failure !== undefined) return Effect.fail(failure)
      const slot = slots.get(name)
      if (slot === undefined) return start(name)
      return Effect.raceFirst(Effect.asVoid(names.whenRegistered(name)), Deferred.await(slot.ended)).pipe(
        Effect.zipRight(Effect.suspend(() => lookup(name)))
      )
    }

    const start = (name: string) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const slot: Slot = { ended: Deferred.unsafeMake(FiberId.none), supervisor: undefined }
        slots.set(name, slot)
        const started = yield* supervisor.startChild({
          id: name,
          start: supervise(name),
          restart: "temporary",
          shutdown: Duration.infinity
        }).pipe(
          Effect.catchTag("MaxChildrenReached", Effect.die), // stores are not capped
          Effect.exit
        )
        if (Exit.isFailure(started)) {
          slots.delete(name)
          Deferred.unsafeDone(slot.ended, started)
          return yield* Effect.failCause(started.cause)
        }
        slot.supervisor = started.value
        yield* watch(name, slot, started.value)
        return yield* lookup(name)
      }))

    // A store's supervisor that ends frees the slot; one that gave up marks the store failed.
    const watch = (name: string, slot: Slot, storeSupervisor: Supervisor.Supervisor<StorageFailure>) =>
      storeSupervisor.await.pipe(
        Effect.exit,
        Effect.flatMap((end) =>
          Effect.sync(() => {
            if (slots.get(name) === slot) slots.delete(name)
            if (Exit.isSuccess(end)) return Deferred.unsafeDone(slot.ended, Exit.void)
            const failure = new StoreFailed({ store: name, reason: failureReason(end.cause) })
            failed.set(name, failure)
            Deferred.unsafeDone(slot.ended, Exit.fail(failure))
          })
        ),
        Effect.interruptible, // forked from `start`, which is not
        Effect.forkIn(scope)
      )

    const supervise = (name: string) => {
      let starts = 0
      const startStore = Effect.gen(function*() {
        if (starts++ > 0) yield* Metric.increment(storeRestarts)
        const gone = yield* Deferred.make<void>()
        // Added first, so it runs last: after the name is freed and the log closed.
        yield* Effect.addFinalizer(() => Deferred.succeed(gone, undefined))
        const store = yield* Store.start(name, options)
        const usage: Usage = { used: true, inFlight: 0, closing: false }
        const running: Running = { store: counted(name, store, usage), usage, gone, await: store.server.await }
        // A slot per name: nobody else can hold it.
        yield* names.register(name, running).pipe(Effect.catchTag("AlreadyRegistered", Effect.die))
        return running
      })
      return Supervisor.start({
        ...options.storeRestarts,
        name: `store:${name}`,
        // Its log must be closed before it is opened again, however long that takes.
        children: [{ id: name, start: startStore, shutdown: Duration.infinity }]
      }).pipe(Effect.provideService(Storage, storage))
    }

    // The store with its writes counted in flight, so that the idle sweep does not close under them.
    const counted = (name: string, store: Store.Store, usage: Usage): Store.Store => ({
      ...store,
      server: {
        ...store.server,
        call: (write, callOptions) =>
          Effect.suspend(() => {
            usage.used = true
            if (usage.closing) {
              return lookup(name).pipe(
                Effect.catchTag("StoreFailed", (failure) =>
                  Effect.fail(new ServerStopped({ server: `store:${name}`, reason: failure.message, taken: false }))),
                Effect.flatMap((current) => current.server.call(write, callOptions))
              )
            }
            usage.inFlight++
            return Effect.ensuring(store.server.call(write, callOptions), Effect.sync(() => usage.inFlight--))
          })
      }
    })

    const close = (name: string) =>
      Effect.suspend(() => {
        const slot = slots.get(name)
        const running = names.unsafeLookup(name)
        if (running !== undefined) running.usage.closing = true
        return slot?.supervisor === undefined ? Effect.void : Effect.ignore(supervisor.terminateChild(slot.supervisor))
      })

    // A store unused since the last sweep, with no write in flight, is closed.
    const closeIdle = Effect.gen(function*() {
      for (const name of yield* names.names) {
        const running = names.unsafeLookup(name)
        if (running === undefined) continue
        if (running.usage.used || running.usage.inFlight > 0) {
          running.usage.used = false
          continue
        }
        yield* Effect.logDebug(`closing store "${name}": unused for ${Duration.format(idleTimeout)}`)
        yield* close(name)
      }
    })
    if (Duration.isFinite(idleTimeout)) {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(idleTimeout), closeIdle)))
    }

    return {
      lookup,
      running: names.names,
      stop: (name) => Effect.zipRight(Effect.sync(() => failed.delete(name)), close(name)),
      restart: (name) => Effect.zipRight(Effect.sync(() => failed.delete(name)), Effect.asVoid(lookup(name)))
    }
  })

const failureReason = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  if (failure instanceof Supervisor.RestartIntensityExceeded) {
    return `it crashed more than ${failure.maxRestarts} times within ${failure.periodMillis} ms, ` +
      `last with: ${failure.reason}`
  }
  return failure instanceof Error ? failure.message : String(failure)
}
