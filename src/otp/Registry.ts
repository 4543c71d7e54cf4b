/**
 * A registry of unique names, as Elixir's `Registry` with `keys: :unique`: it maps each name to
 * one running child (a `Server`, a `Supervisor`, anything with an `await`).
 *
 * ```ts
 * const names = yield* Registry.make<Server.Server<Request, Reply>>()
 * const spec = {
 *   id: "counter",
 *   start: Registry.via(names, "counter", Server.start(counter, { name: "counter" }))
 * }
 * // ...under a supervisor; then, whichever incarnation runs:
 * const n = yield* Registry.call(names, "counter", "get")
 * ```
 *
 * - A name is taken by {@link Registry.register} (or {@link via}) in a scope, and frees itself
 *   when the child ends (its `await` completes) or that scope closes, whichever comes first.
 *   A supervisor closes a child's scope before it starts the child again, so the restarted one
 *   takes the name again: this is how callers find a child across restarts.
 * - Taking a name that a running child holds fails with {@link AlreadyRegistered}.
 * - {@link Registry.unsafeLookup} is one `Map` lookup, for hot paths; {@link call} and
 *   {@link cast} send to a server by name (OTP's `{:via, Registry, {registry, name}}`) and fail
 *   with {@link NotRegistered} when no child holds the name.
 * - {@link Registry.whenRegistered} waits until some child takes a name, e.g. while its
 *   supervisor restarts it.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Server from "./Server.js"
import type { Child } from "./Supervisor.js"

/**
 * `register` (or `via`) of a name that another running child holds; nothing was registered.
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyRegistered extends Schema.TaggedError<AlreadyRegistered>()("AlreadyRegistered", {
  name: Schema.String
}) {
  override get message(): string {
    return `the name "${this.name}" is taken by a running child; stop it first or pick another name`
  }
}

/**
 * `call` or `cast` by a name that no running child holds (never taken, or its child ended and
 * has not been restarted yet).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotRegistered extends Schema.TaggedError<NotRegistered>()("NotRegistered", {
  name: Schema.String
}) {
  override get message(): string {
    return `no running child is registered as "${this.name}"; start it, or retry once it has been restarted`
  }
}

/**
 * Unique names to running children; see the module documentation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registry<A extends Child> {
  /** Gives `name` to `child` until the child ends or the current scope closes. */
  readonly register: (name: string, child: A) => Effect.Effect<void, AlreadyRegistered, Scope.Scope>
  /** The child holding `name`, if any. */
  readonly lookup: (name: string) => Effect.Effect<Option.Option<A>>
  /** The child holding `name`, or `undefined`: one `Map` lookup. */
  readonly unsafeLookup: (name: string) => A | undefined
  /** The child holding `name`, waiting until one takes it. */
  readonly whenRegistered: (name: string) => Effect.Effect<A>
  /** The names held now, sorted. */
  readonly names: Effect.Effect<ReadonlyArray<string>>
}

/**
 * Makes an empty registry. It holds no fiber of its own: each registration watches its child in
 * the scope it was made in, through the child's `unsafeOnEnd` when it has one (a server), else
 * with a fiber that waits on its `await`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends Child>(): Effect.Effect<Registry<A>> =>
  Effect.sync(() => {
    const children = new Map<string, A>()
    const waiting = new Map<string, Deferred.Deferred<A>>()

    const unsafeUnregister = (name: string, child: A) => {
      if (children.get(name) === child) children.delete(name)
    }
    const unregister = (name: string, child: A) => Effect.sync(() => unsafeUnregister(name, child))

    const registry: Registry<A> = {
      register: (name, child) =>
        Effect.uninterruptible(Effect.suspend(() => {
          if (children.has(name)) return Effect.fail(new AlreadyRegistered({ name }))
          children.set(name, child)
          const waiter = waiting.get(name)
          if (waiter !== undefined) {
            waiting.delete(name)
            Deferred.unsafeDone(waiter, Exit.succeed(child))
          }
          // A child that says when it ends (a server) frees its name with no fiber of its own.
          const watch = child.unsafeOnEnd === undefined
            ? Effect.forkScoped(Effect.interruptible(Effect.ensuring(Effect.exit(child.await), unregister(name, child))))
            : Effect.sync(() => child.unsafeOnEnd!(() => unsafeUnregister(name, child)))
          return Effect.addFinalizer(() => unregister(name, child)).pipe(Effect.zipRight(watch), Effect.asVoid)
        })),
      lookup: (name) => Effect.sync(() => Option.fromNullable(children.get(name))),
      unsafeLookup: (name) => children.get(name),
      whenRegistered: (name) =>
        Effect.suspend(() => {
          const child = children.get(name)
          if (child !== undefined) return Effect.succeed(child)
          let waiter = waiting.get(name)
          if (waiter === undefined) {
            waiter = Deferred.unsafeMake<A>(FiberId.none)
            waiting.set(name, waiter)
          }
          return Deferred.await(waiter)
        }),
      names: Effect.sync(() => Array.from(children.keys()).sort())
    }
    return registry
  })

/**
 * Wraps a child's start effect so that the started child takes `name` in `registry`: use it as
 * a child spec's `start`, and each restart registers the new child under the same name. Fails
 * with `AlreadyRegistered` if the name is held; the child started meanwhile stops with its scope.
 *
 * @since 0.1.0
 * @category combinators
 */
export const via = <A extends Child, E, R>(
  registry: Registry<A>,
  name: string,
  start: Effect.Effect<A, E, R>
): Effect.Effect<A, E | AlreadyRegistered, R | Scope.Scope> =>
  Effect.tap(start, (child) => registry.register(name, child))

/**
 * Sends `request` to the server registered as `name` and waits for the reply (OTP's call through
 * `{:via, Registry, {registry, name}}`); `NotRegistered` at once when no server holds the name.
 *
 * @since 0.1.0
 * @category utils
 */
export const call = <Request, Reply, E, Message>(
  registry: Registry<Server.Server<Request, Reply, E, Message>>,
  name: string,
  request: NoInfer<Request>,
  options?: Server.CallOptions
): Effect.Effect<Reply, E | Server.ServerStopped | Server.CallTimeout | Server.Overloaded | NotRegistered> =>
  Effect.suspend((): Effect.Effect<Reply, E | Server.ServerStopped | Server.CallTimeout | Server.Overloaded | NotRegistered> => {
    const server = registry.unsafeLookup(name)
    return server === undefined ? Effect.fail(new NotRegistered({ name })) : server.call(request, options)
  })

/**
 * Queues `message` for the server registered as `name`; `NotRegistered` at once when no server
 * holds the name.
 *
 * @since 0.1.0
 * @category utils
 */
export const cast = <Request, Reply, E, Message>(
  registry: Registry<Server.Server<Request, Reply, E, Message>>,
  name: string,
  message: NoInfer<Message>
): Effect.Effect<void, Server.ServerStopped | Server.Overloaded | NotRegistered> =>
  Effect.suspend((): Effect.Effect<void, Server.ServerStopped | Server.Overloaded | NotRegistered> => {
    const server = registry.unsafeLookup(name)
    return server === undefined ? Effect.fail(new NotRegistered({ name })) : server.cast(message)
  })
