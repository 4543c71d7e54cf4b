/**
 * A supervisor, as OTP's: it starts children from child specs, in order, watches them, and
 * restarts them as their restart type and its strategy say.
 *
 * ## Children
 *
 * A child is whatever a start effect yields that has an `await`: an effect that ends when the
 * child ends, successfully for a normal end (a stop) and with a failure for a crash. A
 * `Server` from `./Server.js` is such a child, and so is a `Supervisor`, so trees nest:
 *
 * ```ts
 * const tree = Supervisor.start({
 *   name: "app",
 *   strategy: "rest_for_one",
 *   children: [
 *     { id: "db", start: Server.start(database, { name: "db" }) },
 *     { id: "workers", start: Supervisor.start({ name: "workers", children: workers }), shutdown: Duration.infinity }
 *   ]
 * }) // scoped: closing the scope shuts the tree down
 * ```
 *
 * Each child runs in a scope of its own that the supervisor owns: the start effect acquires
 * what the child holds in that scope, and closing it stops the child (for a `Server`, it lets
 * the batch in hand finish and runs `terminate`). A child that ends by itself also has its scope
 * closed, with the exit it ended with (so a finalizer can tell a crash from a stop), and its
 * resources are released before it is started again.
 *
 * ## Restart types (`ChildSpec.restart`, default `"permanent"`)
 * - `permanent`: always restarted, whether it crashed or stopped.
 * - `transient`: restarted only after a crash; a normal end leaves it stopped (it stays listed).
 * - `temporary`: never restarted; once it ends, or is terminated, its spec is removed.
 *
 * An end counts as normal when `await` succeeds or the child was only interrupted.
 *
 * ## Strategies (`strategy`, default `"one_for_one"`)
 * - `one_for_one`: only the child that ended is restarted.
 * - `one_for_all`: every other child is terminated (in reverse start order), then all are
 *   started again in start order.
 * - `rest_for_one`: the children started after the one that ended are terminated (in reverse
 *   order), then it and they are started again in order. For children where each depends on the
 *   ones before it.
 *
 * Temporary children caught up in a group restart are terminated and removed, not restarted.
 *
 * ## Restart intensity (`maxRestarts`, default 3; `period`, default 5 seconds)
 * Each restart is recorded with its time. If a restart would make more than `maxRestarts`
 * restarts within the last `period` (a sliding window, its start inclusive), the supervisor gives
 * up: it terminates every child in reverse start order and its `await` fails with
 * {@link RestartIntensityExceeded}, so that its own parent (a supervisor for which it is a child)
 * decides what to do. A child that fails to start during a restart counts as crashing again.
 *
 * ## Backoff (`backoff`, default none)
 * A `Schedule` that spaces restarts out: the n-th restart of a run waits the schedule's n-th
 * delay (the run starts over once the window holds no restart). Children waiting for their
 * restart are listed as `"restarting"`. When the schedule ends, restarts go on without delay.
 *
 * ## Shutdown (`ChildSpec.shutdown`, default 5 seconds)
 * Closing the supervisor's scope terminates its children in reverse start order. Each child is
 * given its shutdown timeout to end (`Duration.infinity` waits as long as it takes: use it for
 * child supervisors). Effect cannot kill a fiber inside an uninterruptible region, so past the
 * timeout the supervisor logs a warning, stops waiting and goes on with the next child; the
 * late child finishes stopping in the background.
 *
 * ## Starting
 * {@link start} starts the children in order; {@link startChild} adds one after them later. If one fails to start, those already started are
 * terminated in reverse order and `start` fails with that child's error.
 *
 * Every restart is logged at warning level with the supervisor's name, the child's id and the
 * reason. This module is not Effect's `Supervisor` (which only observes fibers): import it as
 * `Supervisor` from `effect-kv/otp`, or rename one of the two.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Exit from "effect/Exit"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/supervision.js"

/**
 * What a supervisor needs of a running child: an effect that ends when the child ends. A
 * `Server`, a `Supervisor` and a `DynamicSupervisor` are children.
 *
 * @since 0.1.0
 * @category models
 */
export interface Child {
  /**
   * Succeeds when the child ends normally (a stop); fails or dies when it crashes. An end by
   * interruption alone counts as normal.
   */
  readonly await: Effect.Effect<unknown, unknown>
  /**
   * Calls `f` once the child has ended, with how `await` ends, at once if it already has: a
   * supervisor or a registry then watches the child with no fiber of its own (without it, each
   * forks a fiber that waits on `await`). `f` must not throw. A `Server` has it.
   *
   * @since 0.2.0
   */
  readonly unsafeOnEnd?: (f: (end: Exit.Exit<unknown, unknown>) => void) => void
}

/**
 * When a child is restarted (OTP's `:restart`): `permanent` always, `transient` only after a
 * crash, `temporary` never (its spec is removed once it ends). Default `"permanent"`.
 *
 * @since 0.1.0
 * @category models
 */
export type RestartType = "permanent" | "transient" | "temporary"

/**
 * Which children are restarted when one ends: `one_for_one` (it alone, the default),
 * `one_for_all` (all), `rest_for_one` (it and those started after it). See the module documentation.
 *
 * @since 0.1.0
 * @category models
 */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one"

/**
 * How to start and look after one child (OTP's child specification).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSpec<A extends Child = Child, E = unknown, R = never> {
  /** Names the child in `whichChildren`, `restartChild`, `terminateChild` and logs; unique among the supervisor's children. */
  readonly id: string
  /**
   * Starts the child in a scope of its own, which the supervisor closes to stop it. It runs again
   * for each restart; its failure fails `start` (at start-up) or counts as a crash (at a restart).
   */
  readonly start: Effect.Effect<A, E, R | Scope.Scope>
  /** When to restart the child (default `"permanent"`). */
  readonly restart?: RestartType
  /**
   * How long the child is given to end when terminated (default 5 seconds, as OTP's);
   * `Duration.infinity` waits as long as it takes, for child supervisors.
   */
  readonly shutdown?: Duration.DurationInput
}

/**
 * Restart intensity and backoff, shared by `Supervisor` and `DynamicSupervisor`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RestartOptions {
  /** Names the supervisor in errors and logs. */
  readonly name: string
  /** The most restarts allowed within `period` (default 3, as OTP's `max_restarts`). */
  readonly maxRestarts?: number
  /** The sliding window of the restart intensity (default 5 seconds, as OTP's `max_seconds`). */
  readonly period?: Duration.DurationInput
  /** Spaces restarts out; the n-th restart of a run waits the n-th delay (default: restart at once). */
  readonly backoff?: Schedule.Schedule<unknown, unknown>
}

/**
 * Options of {@link start}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorOptions<E, R> extends RestartOptions {
  /** Which children are restarted when one ends (default `"one_for_one"`). */
  readonly strategy?: Strategy
  /** The children, in start order. */
  readonly children: ReadonlyArray<ChildSpec<Child, E, R>>
}

/**
 * One child as {@link Supervisor.whichChildren} reports it (OTP's `which_children`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildInfo {
  readonly id: string
  readonly restart: RestartType
  /** `running`; `restarting`: waiting for its backoff; `stopped`: terminated, or a transient child that ended normally. */
  readonly status: "running" | "restarting" | "stopped"
  /** The running child, if it runs. */
  readonly child: Option.Option<Child>
}

/**
 * What {@link Supervisor.countChildren} reports (OTP's `count_children`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildCounts {
  /** Children with a spec, running or not. */
  readonly specs: number
  /** Children running now. */
  readonly active: number
}

/**
 * A running supervisor; it is itself a child, so supervisors nest.
 *
 * @since 0.1.0
 * @category models
 */
export interface Supervisor<E = unknown> extends Child {
  readonly name: string
  /** Ends when the supervisor is shut down; fails with `RestartIntensityExceeded` when it gave up. */
  readonly await: Effect.Effect<void, RestartIntensityExceeded>
  /**
   * Whether it still supervises: false from the moment it shuts down or gives up (before its
   * children have stopped and `await` has ended).
   *
   * @since 0.2.0
   */
  readonly isRunning: () => boolean
  /** The children in start order. */
  readonly whichChildren: Effect.Effect<ReadonlyArray<ChildInfo>>
  /** How many children have a spec, and how many run. */
  readonly countChildren: Effect.Effect<ChildCounts>
  /**
   * Adds a child after the others and starts it, as OTP's `start_child`. Fails with the child's
   * start error (and keeps no spec), or `DuplicateChild` when the id is taken.
   */
  readonly startChild: <A extends Child, E2 = never, R = never>(
    spec: ChildSpec<A, E2, R>
  ) => Effect.Effect<A, E2 | DuplicateChild, Exclude<R, Scope.Scope>>
  /**
   * Starts a stopped child again, as OTP's `restart_child`; fails with `ChildAlreadyRunning` if it
   * runs or waits for its restart, `ChildNotFound` for an unknown id, or the child's start error.
   */
  readonly restartChild: (id: string) => Effect.Effect<Child, ChildNotFound | ChildAlreadyRunning | E>
  /**
   * Stops a child within its shutdown timeout, as OTP's `terminate_child`; its spec stays (so
   * `restartChild` can start it) unless it is temporary.
   */
  readonly terminateChild: (id: string) => Effect.Effect<void, ChildNotFound>
}

/**
 * The supervisor restarted more than `maxRestarts` times within `period` and gave up: it stopped
 * every child, and its `await` fails with this error so that its parent decides. `child` is the
 * one whose end was one too many; `reason` is why it ended.
 *
 * @since 0.1.0
 * @category errors
 */
export const RestartIntensityExceeded: typeof internal.RestartIntensityExceeded = internal.RestartIntensityExceeded

/**
 * @since 0.1.0
 * @category errors
 */
export type RestartIntensityExceeded = internal.RestartIntensityExceeded

/**
 * No child of `supervisor` has the id `child`.
 *
 * @since 0.1.0
 * @category errors
 */
export const ChildNotFound: typeof internal.ChildNotFound = internal.ChildNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export type ChildNotFound = internal.ChildNotFound

/**
 * `startChild` with an id that another child of the supervisor has; nothing was started.
 *
 * @since 0.1.0
 * @category errors
 */
export const DuplicateChild: typeof internal.DuplicateChild = internal.DuplicateChild

/**
 * @since 0.1.0
 * @category errors
 */
export type DuplicateChild = internal.DuplicateChild

/**
 * `restartChild` on a child that runs, or waits for the restart the supervisor itself will do
 * (`status` says which); terminate it first.
 *
 * @since 0.1.0
 * @category errors
 */
export const ChildAlreadyRunning: typeof internal.ChildAlreadyRunning = internal.ChildAlreadyRunning

/**
 * @since 0.1.0
 * @category errors
 */
export type ChildAlreadyRunning = internal.ChildAlreadyRunning

/**
 * OTP's defaults: at most 3 restarts (`maxRestarts`) in 5 seconds (`period`); 5 seconds to shut
 * a child down (`shutdown`).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: {
  readonly maxRestarts: number
  readonly period: Duration.Duration
  readonly shutdown: Duration.Duration
} = internal.defaults

/**
 * Starts the children in order in the current scope and supervises them (OTP's
 * `Supervisor.start_link`). If a child fails to start, those already started are terminated in
 * reverse order and `start` fails with that child's error. Closing the scope terminates the
 * children in reverse start order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: <E = never, R = never>(
  options: SupervisorOptions<E, R>
) => Effect.Effect<Supervisor<E>, E, Exclude<R, Scope.Scope> | Scope.Scope> = internal.startSupervisor

/**
 * The children of `supervisor`, in start order. See {@link Supervisor.whichChildren}.
 *
 * @since 0.1.0
 * @category getters
 */
export const whichChildren = (supervisor: Supervisor<unknown>): Effect.Effect<ReadonlyArray<ChildInfo>> =>
  supervisor.whichChildren

/**
 * How many children `supervisor` has, and how many run. See {@link Supervisor.countChildren}.
 *
 * @since 0.1.0
 * @category getters
 */
export const countChildren = (supervisor: Supervisor<unknown>): Effect.Effect<ChildCounts> => supervisor.countChildren

/**
 * Adds a child to `supervisor`, after the others, and starts it. See {@link Supervisor.startChild}.
 *
 * @since 0.1.0
 * @category utils
 */
export const startChild = <A extends Child, E2 = never, R = never>(
  supervisor: Supervisor<unknown>,
  spec: ChildSpec<A, E2, R>
): Effect.Effect<A, E2 | DuplicateChild, Exclude<R, Scope.Scope>> => supervisor.startChild(spec)

/**
 * Starts the stopped child `id` of `supervisor` again. See {@link Supervisor.restartChild}.
 *
 * @since 0.1.0
 * @category utils
 */
export const restartChild = <E>(
  supervisor: Supervisor<E>,
  id: string
): Effect.Effect<Child, ChildNotFound | ChildAlreadyRunning | E> => supervisor.restartChild(id)

/**
 * Stops the child `id` of `supervisor`. See {@link Supervisor.terminateChild}.
 *
 * @since 0.1.0
 * @category utils
 */
export const terminateChild = (supervisor: Supervisor<unknown>, id: string): Effect.Effect<void, ChildNotFound> =>
  supervisor.terminateChild(id)
