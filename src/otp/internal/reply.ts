/**
 * A call's reply: Effect's own `Deferred`, made with one prototype for every reply.
 *
 * `Deferred.unsafeMake` spreads Effect's prototype (13 keys, symbols among them) into each new
 * instance: 1.6% of a durable HTTP PUT's CPU in a profile, and most of the 3 KB that a call
 * allocated. A reply here is an object whose prototype holds those same keys, with its own
 * `state` and `blockingOn` as `unsafeMake` sets them: every `Deferred` function (`await`,
 * `unsafeDone`, `isDone`, `poll`, ...) works on it unchanged, since they read only those two.
 * Should an Effect release shape its `Deferred` otherwise, `make` falls back to `unsafeMake`.
 *
 * {@link awaitOr} waits for a reply as `Deferred.await` does, running `giveUp` if the waiter is
 * interrupted. `Effect.onInterrupt(Deferred.await(reply), ...)` does the same with two
 * interruption handlers (`Deferred.await` has one of its own), each an uninterruptible region
 * and a match on the exit: about 1.5 KB and a dozen interpreter steps per call more.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as MutableRef from "effect/MutableRef"
import * as Predicate from "effect/Predicate"

/** The part of a `Deferred` that `Deferred.unsafeMake` sets per instance. */
interface Own {
  state: MutableRef.MutableRef<State>
  blockingOn: FiberId.FiberId
}

/** A `Deferred`'s state: pending with the callbacks of its waiters, or done with its exit. */
interface State {
  readonly _tag: string
  readonly joiners: Array<(exit: Exit.Exit<unknown, unknown>) => void>
  readonly effect: Exit.Exit<unknown, unknown>
}

const template = Deferred.unsafeMake<unknown, unknown>(FiberId.none) as unknown as Partial<Own>
const templateState = Predicate.hasProperty(template.state, "current") ? MutableRef.get(template.state!) : undefined
const pendingTag = templateState !== undefined && Array.isArray(templateState.joiners) && "blockingOn" in template
  ? templateState._tag
  : undefined

const prototype: object | undefined = pendingTag === undefined ? undefined : (() => {
  const { blockingOn: _blockingOn, state: _state, ...shared } = Object.getOwnPropertyDescriptors(template)
  return Object.create(Object.getPrototypeOf(template), shared)
})()

/** A pending `Deferred`, as `Deferred.unsafeMake(blockingOn)` makes it, for less. */
export const make = <A, E = never>(blockingOn: FiberId.FiberId): Deferred.Deferred<A, E> => {
  if (prototype === undefined) return Deferred.unsafeMake<A, E>(blockingOn)
  const reply: Own = Object.create(prototype)
  reply.state = MutableRef.make({ _tag: pendingTag!, joiners: [] } as unknown as State)
  reply.blockingOn = blockingOn
  return reply as unknown as Deferred.Deferred<A, E>
}

/**
 * Waits for `reply` as `Deferred.await` does; if the waiter is interrupted first, it is removed
 * from the reply's waiters and `giveUp` runs.
 */
export const awaitOr = <A, E>(reply: Deferred.Deferred<A, E>, giveUp: () => void): Effect.Effect<A, E> => {
  if (prototype === undefined) return Effect.onInterrupt(Deferred.await(reply), () => Effect.sync(giveUp))
  const own = reply as unknown as Own
  return Effect.async<A, E>((resume) => {
    const state = MutableRef.get(own.state)
    if (state._tag !== pendingTag) return resume(state.effect as Exit.Exit<A, E>)
    const joiner = resume as (exit: Exit.Exit<unknown, unknown>) => void
    state.joiners.push(joiner)
    return Effect.sync(() => {
      const index = state.joiners.indexOf(joiner)
      if (index >= 0) state.joiners.splice(index, 1)
      giveUp()
    })
  }, own.blockingOn)
}
