/**
 * The tree's `stores` child: a `DynamicSupervisor` of stores. Each store runs under a supervisor
 * of its own, `store:<name>` (one child, the store's server), which is a temporary child of the
 * dynamic supervisor; the running store holds its name in the tree's registry of store names.
 *
 * - A store is started on first use, recovering its state from its log; concurrent first uses of
 *   one name start exactly one store. A store that fails to open (a `CorruptLog`, say) is logged
 *   at error level, with the file and offset the error names, and tried again on next use.
 * - A store whose handler dies is restarted by its supervisor, from its log. Callers in flight get
 *   `ServerStopped` (`KV` tells the writes of the batch in hand that their outcome is unknown);
 *   calls that arrive during the restart wait for the restarted store, within their call timeout
 *   (`KV` bounds every wait here). No other store notices. A storage fault (a full disk) is not a
 *   crash: the store stays up, degraded (see `Store`).
 * - A store that needs more restarts than its intensity allows (by default more than 3 within
 *   5 seconds) is given up on: every call to it fails with `StoreFailed` until {@link Stores.restart}.
 * - A store not used for `idleTimeout` (default 5 minutes) is closed, its log too, and reopened on
 *   next use, so thousands of stores do not hold thousands of files open. A write in flight keeps
 *   its store open; a write that meets a store being closed goes to the store reopened.
 * - Each restart is logged by the store's supervisor, with the store's name and the reason, and
 *   counted in {@link storeRestarts}.
 * - The child ends when its dynamic supervisor gives up (its children are temporary: a store
 *   given up on ends alone, so only a child started in it by hand can make it); from then on, and while it stops, it starts no
 *   store: callers get `ServerStopped` until the tree has started it again.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as DynamicSupervisor from "../otp/DynamicSupervisor.js"
import type * as OtpRegistry from "../otp/Registry.js"
import { makeCallTimeouts, ServerStopped } from "../otp/Server.js"
import * as Supervisor from "../otp/Supervisor.js"
import type { StorageFailure } from "../storage/Errors.js"
import { Storage } from "../storage/Storage.js"
import { StoreFailed } from "./Errors.js"
import * as Deadline from "./internal/deadline.js"
import * as Idle from "./internal/idle.js"
import * as StoreSupervisor from "./internal/storeSupervisor.js"
import * as Store from "./Store.js"

/**
 * Why a store could not be reached: its log could not be opened, it was given up on
 * (`StoreFailed`), or the stores' supervisor is being restarted (`ServerStopped`: retry).
 *
 * @since 0.1.0
 * @category errors
 */
export type LookupError = StorageFailure | StoreFailed | ServerStopped

/**
 * How stores are restarted: at most `maxRestarts` within `period`, spaced by `backoff`.
 *
 * @since 0.1.0
 * @category models
 */
export type StoreRestarts = Omit<Supervisor.RestartOptions, "name">

/**
 * Options of {@link start}.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoresOptions extends Store.StoreOptions {
  /** Closes a store not used for this long, and reopens it on next use (default 5 minutes). */
  readonly idleTimeout?: Duration.DurationInput
  /** Each store's restart intensity (default OTP's: more than 3 restarts in 5 seconds fail it). */
  readonly storeRestarts?: StoreRestarts
}

/**
 * How long a store may go unused before it is closed, unless `idleTimeout` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultIdleTimeout: Duration.Duration = Duration.minutes(5)

/**
 * How many times stores were restarted after a crash.
 *
 * @since 0.1.0
 * @category metrics
 */
export const storeRestarts = StoreSupervisor.storeRestarts

/**
 * A running store as it holds its name: the store, how it is used, and when it is gone.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running extends Supervisor.Child {
  /** The store, its writes counted in flight. */
  readonly store: Store.Store
  /** `Effect.succeed(store)`, made once: what a read that finds the store returns. */
  readonly found: Effect.Effect<Store.Store>
  readonly usage: Idle.Usage
  /** Completes once the store has stopped, released its name and closed its log. */
  readonly gone: Deferred.Deferred<void>
}

/**
 * The running `stores` child.
 *
 * @since 0.2.0
 * @category models
 */
export interface Stores extends Supervisor.Child {
  /** The dynamic supervisor of the stores' supervisors. */
  readonly supervisor: DynamicSupervisor.DynamicSupervisor
  /** The running store of that name, started (and recovered) first if need be. */
  readonly lookup: (name: string) => Effect.Effect<Store.Store, LookupError>
  /**
   * Stops the store of that name, and one being started, then runs `remove` (its data's deletion)
   * while no store of that name may start: a use meanwhile waits, then starts the store afresh.
   * Forgets that the store failed.
   *
   * @since 0.2.0
   */
  readonly drop: <E>(name: string, remove: Effect.Effect<void, E>) => Effect.Effect<void, E>
  /** Starts a store that failed past its restart intensity again (or at all, if it was not running). */
  readonly restart: (name: string) => Effect.Effect<void, LookupError>
}

/**
 * The store that a lookup of `running` may use at once, or `undefined` if it must wait: none runs
 * under that name, or the one that does is stopping. Marks the store used.
 *
 * @since 0.2.0
 * @category getters
 */
export const usable = (running: Running | undefined): Effect.Effect<Store.Store> | undefined =>
  usableStore(running) === undefined ? undefined : running!.found

/**
 * {@link usable}, as the store itself: what a call that finds its store running uses without
 * waiting, with no effect to run. Marks the store used.
 *
 * @since 0.2.0
 * @category getters
 */
export const usableStore = (running: Running | undefined): Store.Store | undefined => {
  if (running === undefined || running.usage.closing || !running.store.server.isRunning()) return undefined
  running.usage.used = true
  return running.store
}

/** A store name whose supervisor is starting or running. */
interface Slot {
  /**
   * What a call that finds no usable store waits on, then looks again: completed (and made anew)
   * each time the name's store takes its name, started or restarted; completed for good when the
   * slot ends, with success when the store was closed, a failure when it could not start or was
   * given up on. One wait, where a race of the name's registration with the slot's end was two
   * fibers and a join of their fiber refs per waiting call.
   */
  changed: Deferred.Deferred<void, LookupError>
  supervisor: Supervisor.Supervisor<StorageFailure> | undefined
}

const makeSlot = (): Slot => ({ changed: Deferred.unsafeMake(FiberId.none), supervisor: undefined })

/** Wakes the calls waiting on `slot`: its store took its name. */
const renew = (slot: Slot) => {
  const woken = slot.changed
  slot.changed = Deferred.unsafeMake(FiberId.none)
  Deferred.unsafeDone(woken, Exit.void)
}

/**
 * Starts the `stores` child in the current scope: the stores it starts write through the `Storage`
 * in context and take their names in `names`. Closing the scope stops every store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const start = (
  options: StoresOptions,
  names: OtpRegistry.Registry<Running>
): Effect.Effect<Stores, never, Storage | Scope.Scope> =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const scope = yield* Effect.scope
    // Made before the stores' supervisor, so closed after every store has stopped: a call keeps its
    // deadline while its store stops.
    const waits = yield* Deadline.makeWaits
    // One fiber for every store's call timeouts: a store restarted after a crash otherwise started
    // a fiber and a timer of its own at its first call, and stopped them as it closed (a store's
    // crash to its next answer in memory, beside main's in 14 interleaved rounds: 0.72x with it,
    // 0.87x without).
    const storeOptions: Store.StoreOptions = { ...options, callTimeouts: yield* makeCallTimeouts }
    const supervisor = yield* DynamicSupervisor.start({ name: "stores" })
    const slots = new Map<string, Slot>()
    const failed = new Map<string, StoreFailed>()
    // Open while a store may be running: the idle sweep waits on it when none is.
    const anyRunning = yield* Effect.makeLatch(false)
    // Names being dropped: completed once the data is gone, and a use may start the store again.
    const dropping = new Map<string, Deferred.Deferred<void>>()

    // Set once the dynamic supervisor gave up or is shutting down: a store started then would
    // outlive it. Its finalizer, added after the supervisor's, runs before the supervisor stops.
    const stopping = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() => Deferred.succeed(stopping, undefined))
    yield* supervisor.await.pipe(Effect.exit, Effect.zipRight(Deferred.succeed(stopping, undefined)), Effect.forkScoped)
    const refuseWhenStopping = Effect.flatMap(Deferred.isDone(stopping), (done) =>
      done
        ? Effect.fail(new ServerStopped({ server: "stores", reason: "the stores' supervisor is stopping", taken: false }))
        : Effect.void)

    const lookup = (name: string): Effect.Effect<Store.Store, LookupError> =>
      usable(names.unsafeLookup(name)) ?? Effect.suspend(() => find(name))

    // The slow path: wait for a store that is on its way out, starting or restarting; or start it.
    const find = (name: string): Effect.Effect<Store.Store, LookupError> => {
      const drop = dropping.get(name)
      if (drop !== undefined) return Effect.zipRight(Deferred.await(drop), Effect.suspend(() => lookup(name)))
      const running = names.unsafeLookup(name)
      const found = usable(running)
      if (found !== undefined) return found
      const slot = slots.get(name)
      if (slot !== undefined) return Effect.zipRight(Deferred.await(slot.changed), Effect.suspend(() => lookup(name)))
      if (running !== undefined) return Effect.zipRight(Deferred.await(running.gone), Effect.suspend(() => lookup(name)))
      const failure = failed.get(name)
      return failure !== undefined ? Effect.fail(failure) : startOpening(name)
    }

    // `find` looked in an earlier step: a concurrent first use may have taken the slot since. Looked
    // at again and taken in this one step, so that a second use waits on the first's slot and never
    // opens the log a second time. The opening runs in a fiber of its own, which goes on if its
    // caller stops waiting (its deadline passed); the caller then looks the store up interruptibly.
    const startOpening = (name: string) =>
      Effect.uninterruptibleMask((restore) => {
        if (slots.has(name) || names.unsafeLookup(name) !== undefined || failed.has(name) || dropping.has(name)) {
          return restore(lookup(name))
        }
        const slot = makeSlot()
        slots.set(name, slot)
        anyRunning.unsafeOpen()
        return Effect.flatMap(
          Effect.forkDaemon(open(name, slot)),
          (opening) => restore(Effect.zipRight(Fiber.join(opening), lookup(name)))
        )
      })

    const open = (name: string, slot: Slot) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const started = yield* supervisor.startChild({
          id: name,
          start: Effect.zipRight(refuseWhenStopping, supervise(name, slot)),
          restart: "temporary",
          shutdown: Duration.infinity
        }).pipe(
          Effect.catchTag("MaxChildrenReached", Effect.die), // stores are not capped
          Effect.exit
        )
        if (Exit.isFailure(started)) {
          slots.delete(name)
          Deferred.unsafeDone(slot.changed, started)
          return yield* Effect.failCause(started.cause)
        }
        slot.supervisor = started.value
        yield* watch(name, slot, started.value)
      }))

    // A store's supervisor that ends frees the slot; one that gave up marks the store failed.
    const watch = (name: string, slot: Slot, storeSupervisor: Supervisor.Supervisor<StorageFailure>) =>
      storeSupervisor.await.pipe(
        Effect.exit,
        Effect.flatMap((end) =>
          Effect.sync(() => {
            if (slots.get(name) === slot) slots.delete(name)
            if (Exit.isSuccess(end)) return Deferred.unsafeDone(slot.changed, Exit.void)
            const failure = new StoreFailed({ store: name, reason: failureReason(end.cause) })
            failed.set(name, failure)
            Deferred.unsafeDone(slot.changed, Exit.fail(failure))
          })
        ),
        Effect.interruptible, // forked from `open`, which is not
        Effect.forkIn(scope)
      )

    const supervise = (name: string, slot: Slot) =>
      StoreSupervisor.start(name, {
        open: Store.start(name, storeOptions),
        names,
        registered: Effect.sync(() => renew(slot)),
        reopen: Effect.suspend(() => lookup(name)),
        waits,
        restarts: options.storeRestarts
      }).pipe(Effect.provideService(Storage, storage))

    const close = (name: string) =>
      Effect.suspend(() => {
        const slot = slots.get(name)
        const running = names.unsafeLookup(name)
        if (running !== undefined) running.usage.closing = true
        return slot?.supervisor === undefined ? Effect.void : Effect.ignore(supervisor.terminateChild(slot.supervisor))
      })

    // Until no store of that name runs or starts: one being started is let finish, then stopped.
    const stopAll = (name: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = slots.get(name)
        if (slot === undefined) return Effect.void
        return close(name).pipe(
          Effect.zipRight(Effect.exit(Deferred.await(slot.changed))),
          Effect.zipRight(stopAll(name))
        )
      })

    const drop = <E>(name: string, remove: Effect.Effect<void, E>) =>
      Effect.uninterruptible(Effect.suspend(() => {
        const before = dropping.get(name)
        const done = Deferred.unsafeMake<void>(FiberId.none)
        dropping.set(name, done)
        failed.delete(name)
        return (before === undefined ? Effect.void : Deferred.await(before)).pipe(
          Effect.zipRight(stopAll(name)),
          Effect.zipRight(remove),
          Effect.ensuring(Effect.sync(() => {
            if (dropping.get(name) === done) dropping.delete(name)
            Deferred.unsafeDone(done, Exit.void)
          }))
        )
      }))

    const running = Effect.sync(() =>
      Array.from(slots.keys()).flatMap((name) => {
        const usage = names.unsafeLookup(name)?.usage
        return usage === undefined ? [] : [[name, usage] as const]
      })
    )
    // Closed, then checked: a store that starts before the check is seen by it, one after opens it.
    const untilAnyRuns = Effect.zipRight(
      anyRunning.close,
      Effect.suspend(() => slots.size > 0 ? anyRunning.open : anyRunning.await)
    )
    yield* Effect.forkScoped(
      Idle.sweep(Duration.decode(options.idleTimeout ?? defaultIdleTimeout), running, close, untilAnyRuns)
    )

    const stores: Stores = {
      supervisor,
      await: supervisor.await,
      lookup,
      drop,
      restart: (name) => Effect.zipRight(Effect.sync(() => failed.delete(name)), Effect.asVoid(lookup(name)))
    }
    return stores
  })

const failureReason = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  if (failure instanceof Supervisor.RestartIntensityExceeded) {
    return `it crashed more than ${failure.maxRestarts} times within ${failure.periodMillis} ms, ` +
      `last with: ${failure.reason}`
  }
  return failure instanceof Error ? failure.message : String(failure)
}
