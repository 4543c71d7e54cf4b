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
import type * as Scope from "effect/Scope"
import { CallTimeout, defaultCallTimeout } from "../../otp/Server.js"
import type * as Store from "../Store.js"

/** The milliseconds of a call timeout as `Server.call` takes it (undefined: the server's default). */
export const millisOf = (timeout: Duration.DurationInput | undefined): number =>
  Duration.toMillis(timeout === undefined ? defaultCallTimeout : Duration.decode(timeout))

/**
 * Waits for `store` (the slow path of a lookup) at most `timeoutMillis`, then runs `use` with the
 * store and the call options of the time left. A wait that does not end in time fails with
 * `CallTimeout` (`taken: false`: the store never saw the request); what it waited on goes on by
 * itself (a store being opened is opened), so that the next call finds it: `store` must be
 * interruptible, with what must go on disconnected where it starts.
 */
export const afterWait = <A, E, R, E2>(
  name: string,
  timeoutMillis: number,
  store: Effect.Effect<Store.Store, E2>,
  use: (store: Store.Store, callOptions: { readonly timeout: Duration.Duration }) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | E2 | CallTimeout, R> => {
  if (timeoutMillis === Infinity) return Effect.flatMap(store, (found) => use(found, { timeout: Duration.infinity }))
  return Effect.clockWith((clock) => {
    const deadline = clock.unsafeCurrentTimeMillis() + timeoutMillis
    // `store` is interruptible: the part that is not (a store being opened) is disconnected where
    // it starts (`Stores`), so it goes on in the background rather than hold the caller past its
    // deadline, and a wait for a store restarting needs no `Effect.disconnect` fiber of its own.
    const waited = Effect.timeoutFail(store, {
      duration: Duration.millis(timeoutMillis),
      onTimeout: () => new CallTimeout({ server: `store:${name}`, timeoutMillis, taken: false })
    })
    return Effect.flatMap(
      waited,
      (found) => use(found, { timeout: Duration.millis(Math.max(0, deadline - clock.unsafeCurrentTimeMillis())) })
    )
  })
}

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
