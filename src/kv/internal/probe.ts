/**
 * A store whose log failed (a full disk, an I/O error) is degraded, not crashed: it keeps serving
 * reads from its acknowledged state and refuses writes with the log's error, while a fiber of the
 * store probes the log (`StoreLog.recover`) with backoff until the disk takes writes again.
 *
 * The probe does not tell the store's server by a message: a store under load has a full mailbox,
 * where a cast would be refused. It completes a `Deferred` that the server looks at before each
 * batch it would write.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { StorageFailure } from "../../storage/Errors.js"

/** A store that refuses writes until its log recovers. Mutable: the probe updates `error`. */
export interface Degraded {
  /** The log's latest error: what writes are refused with meanwhile. */
  error: StorageFailure
  /** Completes once `recover` has succeeded: the store takes writes again. */
  readonly recovered: Deferred.Deferred<void>
}

/**
 * When the probe tries again: after 100 ms, doubling, at most every 2 seconds, each delay jittered
 * by ±20%. A passing fault (one failed fsync) heals within a tenth of a second; a full disk costs
 * one probe (4 KiB written, fsynced and removed) per store every 2 seconds, nothing next to what a
 * disk does; a store takes writes again at most 2 seconds after the disk does, in step with the
 * `Retry-After: 1` its refusals carry. The jitter keeps the stores that a full disk degraded at the
 * same moment from probing it all at once.
 */
export const schedule: Schedule.Schedule<unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.jittered
)

/**
 * Marks `store` degraded by `error` and forks its probe in `scope` (the store's: it ends with the
 * store). The probe logs once when it starts and once when the log has recovered, then runs
 * `onRecovered`.
 */
export const start = (
  store: string,
  error: StorageFailure,
  recover: Effect.Effect<void, StorageFailure>,
  scope: Scope.Scope,
  onRecovered: Effect.Effect<void>
): Effect.Effect<Degraded> =>
  Effect.gen(function*() {
    const recovered = yield* Deferred.make<void>()
    const degraded: Degraded = { error, recovered }
    const attempt = Effect.tapError(recover, (next) =>
      Effect.sync(() => {
        degraded.error = next
      }))
    yield* Effect.logWarning(`store "${store}" refuses writes until its log recovers: ${error.message}`).pipe(
      Effect.zipRight(Effect.retry(attempt, schedule)),
      Effect.zipRight(Deferred.succeed(recovered, undefined)),
      Effect.zipRight(Effect.logInfo(`store "${store}" takes writes again: its log recovered`)),
      Effect.zipRight(onRecovered),
      Effect.annotateLogs("store", store),
      // Forked from the store's batch, which cannot be interrupted; the probe must be.
      Effect.interruptible,
      Effect.forkIn(scope)
    )
    return degraded
  })

/** `degraded` as it stands: `undefined` once its log has recovered. */
export const current = (degraded: Degraded): Effect.Effect<Degraded | undefined> =>
  Effect.map(Deferred.isDone(degraded.recovered), (done) => done ? undefined : degraded)
