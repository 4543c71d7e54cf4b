/**
 * Every operation of `KV` is answered within its call timeout, whatever it waits for: a store
 * still starting, restarting after a crash, or closing (idle, dropped) before it is opened again,
 * as well as the store's mailbox and its batch. The waits before the mailbox share the timeout
 * with the call: what they used up, the call does not get again.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as Sweeper from "../../otp/internal/sweeper.js"
import { CallTimeout, defaultCallTimeout } from "../../otp/Server.js"
import type * as Store from "../Store.js"

/** The milliseconds of a call timeout as `Server.call` takes it (undefined: the server's default). */
export const millisOf = (timeout: Duration.DurationInput | undefined): number =>
  Duration.toMillis(timeout === undefined ? defaultCallTimeout : Duration.decode(timeout))

/** Bounded waits for a store: see {@link makeWaits}. */
export interface Waits {
  /**
   * Waits for `store` (the slow path of a lookup) at most `timeoutMillis`, then runs `use` with
   * the store and the call options of the time left. A wait that does not end in time fails with
   * `CallTimeout` (`taken: false`: the store never saw the request); what it waited on goes on by
   * itself (a store being opened is opened), so that the next call finds it: `store` must be
   * interruptible, with what must go on disconnected where it starts.
   */
  readonly afterWait: <A, E, R, E2>(
    name: string,
    timeoutMillis: number,
    store: Effect.Effect<Store.Store, E2>,
    use: (store: Store.Store, callOptions: { readonly timeout: Duration.Duration }) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | E2 | CallTimeout, R>
}

/** A wait in progress: its deadline, the fiber that looks the store up, and how it ends. */
interface Wait {
  readonly deadline: number
  readonly timeoutMillis: number
  readonly name: string
  readonly fiber: Fiber.RuntimeFiber<Store.Store, unknown>
  /** Set once the wait has its outcome: the store, the lookup's failure or the timeout. */
  outcome: Effect.Effect<Store.Store, unknown> | undefined
  /** The caller's resume, once it waits. */
  resume: ((outcome: Effect.Effect<Store.Store, unknown>) => void) | undefined
}

const settle = (wait: Wait, outcome: Effect.Effect<Store.Store, unknown>) => {
  if (wait.outcome !== undefined) return
  wait.outcome = outcome
  wait.resume?.(outcome)
}

/**
 * Makes the bounded waits of the current scope: each wait looks its store up in one fiber of its
 * own, and one sweeper fiber (`otp`'s, as a server's call timeouts have) watches every wait's
 * deadline. `Effect.timeoutFail` forked two fibers per wait (the lookup and a sleep), set and
 * cleared a timer, and joined the winner's fiber refs into the caller. A store's crash to its next
 * answer in memory took 0.95x the time it took with `timeoutFail` (0.52 ms beside 0.56; 20
 * interleaved rounds of 200 crashes, both builds in one process); with no bound on the wait at
 * all, 0.87x: a wait's own fiber is most of what is left.
 */
export const makeWaits: Effect.Effect<Waits, never, Scope.Scope> = Effect.map(
  Sweeper.make<Wait>((wait) => {
    wait.fiber.unsafeInterruptAsFork(FiberId.none)
    settle(wait, Effect.fail(new CallTimeout({ server: `store:${wait.name}`, timeoutMillis: wait.timeoutMillis, taken: false })))
  }),
  (sweeper): Waits => {
    const within = <E2>(name: string, timeoutMillis: number, deadline: number, store: Effect.Effect<Store.Store, E2>) =>
      Effect.flatMap(Effect.forkDaemon(store), (fiber) => {
        const wait: Wait = { deadline, timeoutMillis, name, fiber, outcome: undefined, resume: undefined }
        fiber.addObserver((exit) => {
          sweeper.unwatch(wait)
          settle(wait, exit)
        })
        const waiting = Effect.async<Store.Store, E2 | CallTimeout>((resume) => {
          if (wait.outcome !== undefined) return resume(wait.outcome as Effect.Effect<Store.Store, E2 | CallTimeout>)
          wait.resume = resume as (outcome: Effect.Effect<Store.Store, unknown>) => void
          // The caller is interrupted: the lookup is of no use to anyone.
          return Effect.sync(() => {
            wait.outcome = Effect.interrupt
            sweeper.unwatch(wait)
            fiber.unsafeInterruptAsFork(FiberId.none)
          })
        })
        if (wait.outcome !== undefined) return waiting
        // Run only when the sweeper sleeps towards a later deadline (or none): it wakes for this one.
        const wake = sweeper.watch(wait)
        return wake === undefined ? waiting : Effect.zipRight(wake, waiting)
      })
    return {
      afterWait: (name, timeoutMillis, store, use) => {
        if (timeoutMillis === Infinity) return Effect.flatMap(store, (found) => use(found, { timeout: Duration.infinity }))
        return Effect.clockWith((clock) => {
          const deadline = clock.unsafeCurrentTimeMillis() + timeoutMillis
          return Effect.flatMap(
            within(name, timeoutMillis, deadline, store),
            (found) => use(found, { timeout: Duration.millis(Math.max(0, deadline - clock.unsafeCurrentTimeMillis())) })
          )
        })
      }
    }
  }
)

/**
 * Runs `effect` in `scope` to its end, whether or not anyone still waits for it, and waits for it
 * at most `timeoutMillis`, else fails with `onTimeout()`: for an operation that must not stop
 * half-way because its caller stopped waiting (dropping a store: stopped, then deleted).
 */
export const goesOn = <A, E, E2>(
  effect: Effect.Effect<A, E>,
  scope: Scope.Scope,
  timeoutMillis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2> =>
  Effect.flatMap(Effect.forkIn(effect, scope), (fiber) =>
    timeoutMillis === Infinity
      ? Fiber.join(fiber)
      : Effect.timeoutFail(Fiber.join(fiber), { duration: Duration.millis(timeoutMillis), onTimeout }))
