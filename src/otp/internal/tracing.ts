/**
 * The machinery of `Tracing`: spans made only when a tracer records them. `../Tracing.ts`
 * re-exports it with its documentation.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Tracer from "effect/Tracer"

export const nativeTracer: Tracer.Tracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

export const isRecording = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => fiber.currentTracer !== nativeTracer

export const recordingSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Tracer.AnySpan | undefined =>
  fiber.currentTracer === nativeTracer ? undefined : fiber.currentSpan

/** A span when the tracer records, and, if `underParent`, only inside another span. */
const spanned = (name: string, options: Tracer.SpanOptions | undefined, underParent: boolean) => {
  const spanOptions: Tracer.SpanOptions = { captureStackTrace: false, ...options }
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) =>
      fiber.currentTracer === nativeTracer || (underParent && fiber.currentSpan === undefined)
        ? self
        : Effect.withSpan(self, name, spanOptions) as Effect.Effect<A, E, R>
    )
}

export const withSpan = (name: string, options?: Tracer.SpanOptions) => spanned(name, options, false)

export const withChildSpan = (name: string, options?: Tracer.SpanOptions) => spanned(name, options, true)

/** `context` without the span it was captured in (which no service of a child asks for). */
export const withoutSpan = <R>(context: Context.Context<R>): Context.Context<R> =>
  Context.omit(Tracer.ParentSpan)(context) as Context.Context<R>

/**
 * Runs `self`, and whatever it forks, outside the current span: for what outlives the call that
 * starts it (a server, a supervisor's children), whose work is traced under the calls it serves.
 */
export const detached = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(self, FiberRef.currentContext, withoutSpan)

/**
 * {@link detached} for the rest of the current fiber, with nothing to restore: the first step of a
 * fiber that outlives its starter. One step, where `detached` (the fiber ref's get, set and
 * restore as an acquire, use and release) is about fifteen.
 */
export const detachFiber: Effect.Effect<void> = FiberRef.update(FiberRef.currentContext, withoutSpan)
