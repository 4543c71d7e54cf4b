/**
 * A dynamic supervisor, as Elixir's `DynamicSupervisor`: it starts with no children and starts
 * them at run time with {@link startChild}, each from a child spec as `Supervisor`'s (a start
 * effect that yields something with an `await`, a restart type, a shutdown timeout).
 *
 * ```ts
 * const workers = yield* DynamicSupervisor.start({ name: "workers", maxChildren: 100 })
 * const worker = yield* DynamicSupervisor.startChild(workers, {
 *   id: "job-42",
 *   start: Server.start(job, { name: "job-42" }),
 *   restart: "transient"
 * })
 * ```
 *
 * - Strategy: always one_for_one; children are independent of one another.
 * - Restart types, intensity (default at most 3 restarts in 5 seconds, over all children; past
 *   it the supervisor terminates every child and its `await` fails with
 *   `RestartIntensityExceeded`) and backoff are `Supervisor`'s. A child that will not be
 *   restarted (temporary, or transient after a normal end) is forgotten when it ends.
 * - `maxChildren` (default unlimited) caps the children: past it `startChild` fails at once with
 *   {@link MaxChildrenReached} and starts nothing.
 * - A child is known by its handle as `startChild` returned it; after a restart the handle is a
 *   new one, so find restarted children by name with a `Registry`.
 * - Closing the supervisor's scope terminates all children at once, each within its shutdown
 *   timeout, running their terminate hooks: children have no order among them.
 * - `startChild` starts the child before it returns: a child that fails to start is not kept,
 *   and `startChild` fails with its error. Children start one at a time.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/supervision.js"
import type {
  Child,
  ChildCounts,
  ChildInfo,
  ChildNotFound,
  ChildSpec,
  RestartIntensityExceeded,
  RestartOptions
} from "./Supervisor.js"

/**
 * Options of {@link start}: `name`, `maxRestarts` (default 3), `period` (default 5 seconds) and
 * `backoff` as `Supervisor`'s, and `maxChildren`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSupervisorOptions extends RestartOptions {
  /** The most children at once (default unlimited); past it `startChild` fails with `MaxChildrenReached`. */
  readonly maxChildren?: number
}

/**
 * A running dynamic supervisor; it is itself a child, so it can sit in a supervision tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSupervisor extends Child {
  readonly name: string
  /** Ends when the supervisor is shut down; fails with `RestartIntensityExceeded` when it gave up. */
  readonly await: Effect.Effect<void, RestartIntensityExceeded>
  /**
   * Whether it still supervises: false from the moment it shuts down or gives up.
   *
   * @since 0.2.0
   */
  readonly isRunning: () => boolean
  /**
   * Starts a child and supervises it, as Elixir's `DynamicSupervisor.start_child`; returns the
   * running child. Fails with the child's start error (nothing is kept) or `MaxChildrenReached`.
   */
  readonly startChild: <A extends Child, E = never, R = never>(
    spec: ChildSpec<A, E, R>
  ) => Effect.Effect<A, E | MaxChildrenReached, Exclude<R, Scope.Scope>>
  /**
   * Stops a child, known by its current handle, within its shutdown timeout and forgets it;
   * `ChildNotFound` if no running child has that handle.
   */
  readonly terminateChild: (child: Child) => Effect.Effect<void, ChildNotFound>
  /** The children, in the order they were started. */
  readonly whichChildren: Effect.Effect<ReadonlyArray<ChildInfo>>
  /** How many children have a spec, and how many run. */
  readonly countChildren: Effect.Effect<ChildCounts>
}

/**
 * `startChild` on a supervisor that already has `maxChildren` children; nothing was started.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxChildrenReached extends Schema.TaggedError<MaxChildrenReached>()("MaxChildrenReached", {
  supervisor: Schema.String,
  maxChildren: Schema.Number
}) {
  override get message(): string {
    return `supervisor "${this.supervisor}" already has its maximum of ${this.maxChildren} children; ` +
      `stop some or raise maxChildren`
  }
}

/**
 * Starts a dynamic supervisor with no children in the current scope. Closing the scope
 * terminates every child at once, each within its shutdown timeout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: DynamicSupervisorOptions): Effect.Effect<DynamicSupervisor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const engine = yield* internal.makeEngine<unknown>({ ...options, strategy: "one_for_one", dynamic: true })
    const maxChildren = options.maxChildren ?? Infinity
    const supervisor: DynamicSupervisor = {
      name: engine.name,
      await: engine.await,
      isRunning: engine.isRunning,
      startChild: <A extends Child, E, R>(spec: ChildSpec<A, E, R>) =>
        Effect.flatMap(Effect.context<Exclude<R, Scope.Scope>>(), (context) =>
          engine.serialized(Effect.suspend((): Effect.Effect<A, E | MaxChildrenReached> =>
            engine.entries.length >= maxChildren
              ? Effect.fail(new MaxChildrenReached({ supervisor: engine.name, maxChildren }))
              : engine.add(spec, internal.provideContext(spec.start, context))
          ))),
      terminateChild: (child) =>
        engine.serialized(Effect.suspend(() => {
          const entry = engine.entries.find((candidate) =>
            candidate.status._tag === "Running" && candidate.status.child === child
          )
          return entry === undefined
            ? Effect.fail(new internal.ChildNotFound({ supervisor: engine.name, child: "(the given handle)" }))
            : engine.terminate(entry)
        })),
      whichChildren: engine.whichChildren,
      countChildren: engine.countChildren
    }
    return supervisor
  })

/**
 * Starts a child under `supervisor`. See {@link DynamicSupervisor.startChild}.
 *
 * @since 0.1.0
 * @category utils
 */
export const startChild = <A extends Child, E = never, R = never>(
  supervisor: DynamicSupervisor,
  spec: ChildSpec<A, E, R>
): Effect.Effect<A, E | MaxChildrenReached, Exclude<R, Scope.Scope>> => supervisor.startChild(spec)

/**
 * Stops `child` under `supervisor` and forgets it. See {@link DynamicSupervisor.terminateChild}.
 *
 * @since 0.1.0
 * @category utils
 */
export const terminateChild = (supervisor: DynamicSupervisor, child: Child): Effect.Effect<void, ChildNotFound> =>
  supervisor.terminateChild(child)
