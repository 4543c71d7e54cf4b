/**
 * The call timeouts of one server, watched by one fiber.
 *
 * `Effect.timeout` on each call would fork two fibers per call; here the watched calls wait in a
 * set and a single fiber sleeps until the earliest deadline, expires what is due, and sleeps
 * again. A deadline earlier than the one the fiber sleeps towards replaces the fiber.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"

/** Something with a deadline, in the clock's epoch milliseconds. */
export interface Timed {
  readonly deadline: number
}

export interface Sweeper<T extends Timed> {
  /**
   * Watches `item` until its deadline, when the sweeper passes it to `expire`, or until
   * {@link unwatch}. Returns an effect to run when the sweeper must be woken earlier for it, and
   * `undefined` when it already wakes in time (the common case: no effect to run per call).
   */
  readonly watch: (item: T) => Effect.Effect<void> | undefined
  /** Stops watching `item` (answered, or given up on); a plain set removal. */
  readonly unwatch: (item: T) => void
}

/**
 * Makes a sweeper whose fiber lives in the current scope, stopped where the sweeper was made among
 * its finalizers (not where its fiber was last forked): what was made after it, and stops first,
 * still has its deadlines kept while it stops.
 */
export const make = <T extends Timed>(expire: (item: T) => void): Effect.Effect<Sweeper<T>, never, Scope.Scope> =>
  Effect.map(Effect.flatMap(Effect.scope, (scope) => Scope.fork(scope, ExecutionStrategy.sequential)), (scope) => {
    const watched = new Set<T>()
    // The deadline the sweeper fiber sleeps towards; Infinity when none sleeps.
    let wakeAt = Infinity
    let sweeper: Fiber.RuntimeFiber<void> | undefined

    // Expires every item due at `now`; returns the earliest deadline left.
    const expireDue = (now: number) => {
      let earliest = Infinity
      for (const item of watched) {
        if (item.deadline <= now) {
          watched.delete(item)
          expire(item)
        } else if (item.deadline < earliest) earliest = item.deadline
      }
      return earliest
    }

    const sweepFrom = (at: number) =>
      Effect.gen(function*() {
        let next = at
        while (next !== Infinity) {
          const now = yield* Clock.currentTimeMillis
          if (next > now) yield* Effect.sleep(Duration.millis(next - now))
          next = expireDue(yield* Clock.currentTimeMillis)
          wakeAt = next
        }
      })

    // Checked again when run: a call interrupted before it ran this must not leave `wakeAt` early.
    const wakeBy = (deadline: number) =>
      Effect.suspend(() => {
        if (deadline >= wakeAt) return Effect.void
        wakeAt = deadline
        const previous = sweeper
        return Effect.forkIn(Effect.interruptible(sweepFrom(deadline)), scope).pipe(
          Effect.flatMap((fiber) => {
            sweeper = fiber
            return previous === undefined ? Effect.void : Fiber.interruptFork(previous)
          })
        )
      })

    const sweeperOf: Sweeper<T> = {
      watch: (item) => {
        watched.add(item)
        return item.deadline < wakeAt ? wakeBy(item.deadline) : undefined
      },
      unwatch: (item) => {
        watched.delete(item)
      }
    }
    return sweeperOf
  })
