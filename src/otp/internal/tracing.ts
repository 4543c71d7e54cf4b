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
import * as Tracer from "effect/Tracer"

export const nativeTracer: Tracer.Tracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

export const isRecording = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => fiber.currentTracer !== nativeTracer

export const recordingSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Tracer.AnySpan | undefined =>
  fiber.currentTracer === nativeTracer ? undefined : fiber.currentSpan

export const withSpan = (name: string, options?: Tracer.SpanOptions) => {
  const spanOptions: Tracer.SpanOptions = { captureStackTrace: false, ...options }
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) =>
      fiber.currentTracer === nativeTracer ? self : Effect.withSpan(self, name, spanOptions) as Effect.Effect<A, E, R>
    )
}
