/**
 * A child of the supervision tree that is a service built from its Layer (the tree's `storage`).
 *
 * - The child ends, as a crash, when a fiber that the Layer started fails (for file storage, one of
 *   its writers): Effect's fiber `Supervisor` sees every fiber forked while the Layer is built, and
 *   every fiber those fork. A fiber that is interrupted or simply finishes is not an end. A service
 *   that runs no fiber of its own (memory storage, or one built outside the tree) never ends by
 *   itself: nothing in it can.
 * - Starting the child again after it ended builds the Layer again; starting it while the service
 *   still runs (the child was only terminated) takes the same service.
 * - A service is released when the next one is built or the tree stops, not when its child's
 *   scope closes: the supervisor closes an ended child's scope before it stops the children after
 *   it, and those still use this service until they are stopped.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ScopedRef from "effect/ScopedRef"
import * as FiberSupervisor from "effect/Supervisor"
import type * as Supervisor from "../../otp/Supervisor.js"

/** One build of the Layer: the service, and a `Deferred` that fails when one of its fibers does. */
interface Incarnation<S> {
  readonly service: S
  readonly ended: Deferred.Deferred<never, unknown>
}

/** The running child: the service, and its end. */
export interface LayerChild<S> extends Supervisor.Child {
  readonly service: S
}

/** The services built so far; the current one is what the child's start yields. */
export interface Incarnations<S, E> {
  /** The child's start effect: the current service, built again first if it has ended. */
  readonly start: Effect.Effect<LayerChild<S>, E>
  /** The service of the current build. */
  readonly current: Effect.Effect<S>
}

// Fails `ended` with the cause of the first fiber that fails among those it supervises.
class FailedFibers extends FiberSupervisor.AbstractSupervisor<void> {
  constructor(readonly ended: Deferred.Deferred<never, unknown>) {
    super()
  }
  readonly value = Effect.void
  override onEnd<A, E>(exit: Exit.Exit<A, E>): void {
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      Deferred.unsafeDone(this.ended, Exit.failCause(exit.cause))
    }
  }
}

const build = <I, S, E, R>(tag: Context.Tag<I, S>, layer: Layer.Layer<I, E, R>) =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<never, unknown>()
    // Interruptible: `ScopedRef` acquires without interruption, and fibers forked then would inherit it.
    const context = yield* Effect.supervised(Effect.interruptible(Layer.build(layer)), new FailedFibers(ended))
    const incarnation: Incarnation<S> = { service: Context.get(context, tag), ended }
    return incarnation
  })

/**
 * Builds `layer` once now, in the current scope, and returns the child's start effect. Fails as
 * the first build fails.
 */
export const make = <I, S, E, R>(
  tag: Context.Tag<I, S>,
  layer: Layer.Layer<I, E, R>
): Effect.Effect<Incarnations<S, E>, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const incarnations = yield* ScopedRef.fromAcquire(build(tag, layer))
    const rebuild = ScopedRef.set(incarnations, build(tag, layer)).pipe(Effect.provide(context))
    const start = Effect.gen(function*() {
      if (yield* Deferred.isDone((yield* ScopedRef.get(incarnations)).ended)) yield* rebuild
      const { ended, service } = yield* ScopedRef.get(incarnations)
      const child: LayerChild<S> = { service, await: Deferred.await(ended) }
      return child
    })
    return { start, current: Effect.map(ScopedRef.get(incarnations), (incarnation) => incarnation.service) }
  })
