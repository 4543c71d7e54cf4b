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
 * closed, so its resources are released before it is started again.
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
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/supervision.js"

/** What a supervisor needs of a running child: an effect that ends when the child ends. */
export interface Child {
  /** Succeeds when the child ends normally; fails (or dies) when it crashes. */
  readonly await: Effect.Effect<unknown, unknown>
}

/** `permanent`: always restarted; `transient`: only after a crash; `temporary`: never. */
export type RestartType = "permanent" | "transient" | "temporary"

/** Which children are restarted when one ends; see the module documentation. */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one"

/** How to start and look after one child. */
export interface ChildSpec<A extends Child = Child, E = unknown, R = never> {
  /** Names the child in `whichChildren`, `restartChild`, `terminateChild` and logs; unique. */
  readonly id: string
  /** Starts the child in a scope of its own, which is closed to stop it. */
  readonly start: Effect.Effect<A, E, R | Scope.Scope>
  /** Default `"permanent"`. */
  readonly restart?: RestartType
  /** How long the child is given to end when terminated (default 5 seconds). */
  readonly shutdown?: Duration.DurationInput
}

/** Restart intensity and backoff, shared by `Supervisor` and `DynamicSupervisor`. */
export interface RestartOptions {
  /** Names the supervisor in errors and logs. */
  readonly name: string
  /** The most restarts allowed within `period` (default 3). */
  readonly maxRestarts?: number
  /** The sliding window of the restart intensity (default 5 seconds). */
  readonly period?: Duration.DurationInput
  /** Spaces restarts out; see the module documentation (default: restart at once). */
  readonly backoff?: Schedule.Schedule<unknown, unknown>
}

/** Options of {@link start}. */
export interface SupervisorOptions<E, R> extends RestartOptions {
  /** Default `"one_for_one"`. */
  readonly strategy?: Strategy
  /** The children, in start order. */
  readonly children: ReadonlyArray<ChildSpec<Child, E, R>>
}

/** One child as {@link Supervisor.whichChildren} reports it. */
export interface ChildInfo {
  readonly id: string
  readonly restart: RestartType
  /** `stopped`: terminated, or a transient child that ended normally; `restarting`: in backoff. */
  readonly status: "running" | "restarting" | "stopped"
  /** The running child, if it runs. */
  readonly child: Option.Option<Child>
}

/** Counts as OTP's `count_children`. */
export interface ChildCounts {
  /** Children with a spec, running or not. */
  readonly specs: number
  /** Children running now. */
  readonly active: number
}

/** A running supervisor; it is itself a child, so supervisors nest. */
export interface Supervisor<E = unknown> extends Child {
  readonly name: string
  /** Ends when the supervisor is shut down; fails when it gave up on too many restarts. */
  readonly await: Effect.Effect<void, RestartIntensityExceeded>
  /** The children in start order. */
  readonly whichChildren: Effect.Effect<ReadonlyArray<ChildInfo>>
  readonly countChildren: Effect.Effect<ChildCounts>
  /** Adds a child after the others and starts it, as OTP's `start_child`; ids stay unique. */
  readonly startChild: <A extends Child, E2 = never, R = never>(
    spec: ChildSpec<A, E2, R>
  ) => Effect.Effect<A, E2 | DuplicateChild, Exclude<R, Scope.Scope>>
  /** Starts a stopped child again; fails if it runs or is waiting for its restart. */
  readonly restartChild: (id: string) => Effect.Effect<Child, ChildNotFound | ChildAlreadyRunning | E>
  /** Stops a child (within its shutdown timeout); its spec stays unless it is temporary. */
  readonly terminateChild: (id: string) => Effect.Effect<void, ChildNotFound>
}

/** The supervisor restarted more than `maxRestarts` times within `period`, and gave up. */
export class RestartIntensityExceeded extends Schema.TaggedError<RestartIntensityExceeded>()(
  "RestartIntensityExceeded",
  {
    supervisor: Schema.String,
    child: Schema.String,
    maxRestarts: Schema.Number,
    periodMillis: Schema.Number,
    reason: Schema.String
  }
) {
  override get message(): string {
    return `supervisor "${this.supervisor}" gave up: child "${this.child}" needed more than ${this.maxRestarts} ` +
      `restarts within ${this.periodMillis} ms (last reason: ${this.reason}); fix the cause, then restart it`
  }
}

/** No child has that id. */
export class ChildNotFound extends Schema.TaggedError<ChildNotFound>()("ChildNotFound", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  override get message(): string {
    return `supervisor "${this.supervisor}" has no child "${this.child}"; see whichChildren`
  }
}

/** `startChild` with an id that another child has. */
export class DuplicateChild extends Schema.TaggedError<DuplicateChild>()("DuplicateChild", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  override get message(): string {
    return `supervisor "${this.supervisor}" already has a child "${this.child}"; pick another id`
  }
}

/** `restartChild` on a child that runs, or is about to be restarted by the supervisor. */
export class ChildAlreadyRunning extends Schema.TaggedError<ChildAlreadyRunning>()("ChildAlreadyRunning", {
  supervisor: Schema.String,
  child: Schema.String,
  status: Schema.Literal("running", "restarting")
}) {
  override get message(): string {
    return `child "${this.child}" of supervisor "${this.supervisor}" is ${this.status}; terminate it first`
  }
}

/** OTP's defaults: at most 3 restarts in 5 seconds; 5 seconds to shut a child down. */
export const defaults = {
  maxRestarts: 3,
  period: Duration.seconds(5),
  shutdown: Duration.seconds(5)
} as const

/**
 * Starts the children in order in the current scope and supervises them. Closing the scope
 * terminates them in reverse start order. Fails with the first child's start error, if any.
 */
export const start = <E = never, R = never>(
  options: SupervisorOptions<E, R>
): Effect.Effect<Supervisor<E>, E, Exclude<R, Scope.Scope> | Scope.Scope> => internal.startSupervisor(options)

/** The children of `supervisor`, in start order. */
export const whichChildren = (supervisor: Supervisor<unknown>): Effect.Effect<ReadonlyArray<ChildInfo>> =>
  supervisor.whichChildren

/** How many children `supervisor` has, and how many run. */
export const countChildren = (supervisor: Supervisor<unknown>): Effect.Effect<ChildCounts> => supervisor.countChildren

/** Adds a child to `supervisor`, after the others, and starts it. */
export const startChild = <A extends Child, E2 = never, R = never>(
  supervisor: Supervisor<unknown>,
  spec: ChildSpec<A, E2, R>
): Effect.Effect<A, E2 | DuplicateChild, Exclude<R, Scope.Scope>> => supervisor.startChild(spec)

/** Starts the stopped child `id` of `supervisor` again. */
export const restartChild = <E>(
  supervisor: Supervisor<E>,
  id: string
): Effect.Effect<Child, ChildNotFound | ChildAlreadyRunning | E> => supervisor.restartChild(id)

/** Stops the child `id` of `supervisor`. */
export const terminateChild = (supervisor: Supervisor<unknown>, id: string): Effect.Effect<void, ChildNotFound> =>
  supervisor.terminateChild(id)
