/**
 * A budget of bytes that requests take in turn, first come first served, each waiting for its turn
 * at most a deadline. An Effect `Semaphore` with a timeout around `take` would not do: a timeout
 * that fires as the permits are granted drops the grant, and the budget would shrink for good.
 * Here a grant and its abandonment are both settled synchronously, so every grant is given back.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

/** A request waiting for its turn. */
interface Waiter {
  readonly amount: number
  readonly turn: Deferred.Deferred<void>
  granted: boolean
}

/** A budget of `capacity`; see the module documentation. */
export interface Budget {
  /**
   * Runs `use` holding `amount` (at most the capacity) once it fits, after the requests that came
   * first; fails with `onTimeout()` if the turn has not come within `timeoutMillis`.
   */
  readonly use: <A, E, R, E2>(
    amount: number,
    timeoutMillis: number,
    onTimeout: () => E2,
    use: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | E2, R>
}

/** A budget of `capacity`, none of it in use. */
export const make = (capacity: number): Budget => {
  let used = 0
  const waiting: Array<Waiter> = []

  const grantWaiting = () => {
    while (waiting.length > 0 && used + waiting[0]!.amount <= capacity) {
      const waiter = waiting.shift()!
      used += waiter.amount
      waiter.granted = true
      Deferred.unsafeDone(waiter.turn, Exit.void)
    }
  }
  const release = (amount: number) =>
    Effect.sync(() => {
      used -= amount
      grantWaiting()
    })

  // Settles a waiter that will not use its turn: gives it back if it was granted, else leaves the queue.
  const abandon = (waiter: Waiter) =>
    Effect.sync(() => {
      if (waiter.granted) used -= waiter.amount
      else {
        const at = waiting.indexOf(waiter)
        if (at !== -1) waiting.splice(at, 1)
      }
      grantWaiting()
    })

  const acquire = <E2>(amount: number, timeoutMillis: number, onTimeout: () => E2) =>
    Effect.suspend((): Effect.Effect<void, E2> => {
      if (waiting.length === 0 && used + amount <= capacity) {
        used += amount
        return Effect.void
      }
      const waiter: Waiter = { amount, turn: Deferred.unsafeMake(FiberId.none), granted: false }
      waiting.push(waiter)
      return Deferred.await(waiter.turn).pipe(
        Effect.timeoutFail({ duration: Duration.millis(timeoutMillis), onTimeout }),
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : abandon(waiter))
      )
    })

  return {
    use: (amount, timeoutMillis, onTimeout, use) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(
          restore(acquire(amount, timeoutMillis, onTimeout)),
          Effect.ensuring(restore(use), release(amount))
        )
      )
  }
}
