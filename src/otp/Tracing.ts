/**
 * Spans that cost nothing when nobody records them.
 *
 * Effect always has a tracer: without one of your own (`@effect/opentelemetry`, a test tracer)
 * it is Effect's built-in one, which keeps spans in memory for no one. Making such a span per call
 * still costs its allocations, its clock reads and its stack trace. {@link withSpan} makes the
 * span only when the fiber's tracer is another one, and runs the effect as it is otherwise: one
 * comparison, in a step the effect takes anyway.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Tracing } from "effect-kv/otp"
 *
 * const lookup = (id: string) => Effect.succeed(id).pipe(Tracing.withSpan("lookup", { attributes: { id } }))
 * ```
 *
 * A `Server` carries each caller's span (when it records) in its mailbox, and handles a batch of
 * traced calls in a span under the first caller's, linked to the others'.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Tracer from "effect/Tracer"
import * as internal from "./internal/tracing.js"

/**
 * Effect's built-in tracer: the one a fiber has when nobody installed a tracer.
 *
 * @since 0.2.0
 * @category constants
 */
export const nativeTracer: Tracer.Tracer = internal.nativeTracer

/**
 * Whether `fiber` runs under a tracer that records spans (any tracer but Effect's built-in one).
 *
 * @since 0.2.0
 * @category predicates
 */
export const isRecording: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => boolean = internal.isRecording

/**
 * The span `fiber` runs in, when its tracer records spans: what a request carries to another
 * fiber, so that the work done there for it is traced under it.
 *
 * @since 0.2.0
 * @category getters
 */
export const recordingSpan: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => Tracer.AnySpan | undefined =
  internal.recordingSpan

/**
 * Runs `self` in a new span named `name` when the fiber's tracer records spans, and as it is
 * when it does not. No stack trace is captured unless `options` asks for one.
 *
 * @since 0.2.0
 * @category combinators
 */
export const withSpan: (
  name: string,
  options?: Tracer.SpanOptions
) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = internal.withSpan

/**
 * As {@link withSpan}, but only inside a span already: for the steps of a larger piece of work
 * (an append, an fsync), which mean nothing as traces of their own.
 *
 * @since 0.2.0
 * @category combinators
 */
export const withChildSpan: (
  name: string,
  options?: Tracer.SpanOptions
) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = internal.withChildSpan
