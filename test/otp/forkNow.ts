// Forking a fiber that has already done its synchronous part when the fork returns.
import { Effect, type Fiber, Runtime, type Scope } from "effect"

/**
 * Forks `effect` in the current scope and runs it at once, up to its first wait, before
 * returning: a `server.call` forked so has its request in the mailbox, a waiter is waiting.
 * (`Effect.fork` only schedules the fiber; one `yieldNow` is not a promise that it ran.)
 */
export const forkNow = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, Scope.Scope> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.flatMap(Effect.scope, (scope) => Effect.sync(() => Runtime.runFork(runtime, effect, { scope }))))
