/**
 * One store's life under its own supervisor, `store:<name>` (one_for_one, one child: the store's
 * server). Each start opens the store's log, logs at error level if it cannot, and gives the
 * store its name; each start after the first is a restart, counted in {@link storeRestarts}.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as OtpRegistry from "../../otp/Registry.js"
import type { ServerStopped } from "../../otp/Server.js"
import * as Supervisor from "../../otp/Supervisor.js"
import type { StorageFailure } from "../../storage/Errors.js"
import type { StoreFailed } from "../Errors.js"
import type * as Store from "../Store.js"
import type { Running, StoreRestarts } from "../Stores.js"
import type * as Deadline from "./deadline.js"
import * as Idle from "./idle.js"

/** Restarts of stores after a crash; `Stores` exports it. */
export const storeRestarts = Metric.counter("effect_kv_store_restarts", {
  description: "stores restarted by their supervisor after their handler died",
  incremental: true
})

/** What {@link start} needs to run one store. */
export interface StoreLife<R> {
  /** Opens the store's log and starts its server, in the scope it is given. */
  readonly open: Effect.Effect<Store.Store, StorageFailure, R | Scope.Scope>
  /** Where the running store takes its name. */
  readonly names: OtpRegistry.Registry<Running>
  /** Run each time the store has taken its name: wakes the calls waiting for it. */
  readonly registered: Effect.Effect<void>
  /** Finds the store again, for a write that meets this one closing. */
  readonly reopen: Effect.Effect<Store.Store, StorageFailure | StoreFailed | ServerStopped>
  /** Bounds a write's wait for the store that `reopen` finds. */
  readonly waits: Deadline.Waits
  readonly restarts: StoreRestarts | undefined
}

/** Starts the store's supervisor, and the store under it, in the current scope. */
export const start = <R>(
  name: string,
  life: StoreLife<R>
): Effect.Effect<Supervisor.Supervisor<StorageFailure>, StorageFailure, R | Scope.Scope> => {
  let starts = 0
  const startStore = Effect.gen(function*() {
    if (starts++ > 0) yield* Metric.increment(storeRestarts)
    const gone = yield* Deferred.make<void>()
    // Added first, so it runs last: after the name is freed and the log closed.
    yield* Effect.addFinalizer(() => Deferred.succeed(gone, undefined))
    const opened = yield* life.open.pipe(Effect.tapError(logOpenFailure(name)))
    const usage = Idle.make(opened)
    const store = Idle.trackWrites(name, opened, usage, life.reopen, life.waits)
    const running: Running = {
      store,
      found: Effect.succeed(store),
      usage,
      gone,
      await: opened.server.await,
      unsafeOnEnd: opened.server.unsafeOnEnd
    }
    // One supervisor per name, and those of an earlier `stores` are all gone: nobody else holds it.
    yield* life.names.register(name, running).pipe(Effect.catchTag("AlreadyRegistered", Effect.die))
    yield* life.registered
    return running
  })
  return Supervisor.start({
    ...life.restarts,
    name: `store:${name}`,
    // Its log must be closed before it is opened again, however long that takes.
    children: [{ id: name, start: startStore, shutdown: Duration.infinity }]
  })
}

// Said loudly: a store that cannot open is data that cannot be served until someone acts.
const logOpenFailure = (name: string) => (error: StorageFailure) =>
  Effect.logError(`store "${name}" could not be opened: ${error.message}`).pipe(
    Effect.annotateLogs({ store: name, ...failureLocation(error) })
  )

// The file (and offset) a failure names, as log annotations.
const failureLocation = (error: StorageFailure): Record<string, unknown> =>
  error._tag === "CorruptLog"
    ? { file: error.file, offset: error.offset }
    : "path" in error
    ? { file: error.path }
    : {}
