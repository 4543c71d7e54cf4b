/**
 * The machinery shared by `Supervisor` and `DynamicSupervisor`: an ordered list of children,
 * the restart decision, the intensity window, backoff and shutdown. Every change to the list runs
 * under one lock, as an OTP supervisor handles one message at a time.
 *
 * It defines the errors and defaults that `../Supervisor.ts` re-exports, and imports that
 * module only for its types.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type {
  Child,
  ChildCounts,
  ChildInfo,
  ChildSpec,
  RestartOptions,
  RestartType,
  Strategy,
  Supervisor,
  SupervisorOptions
} from "../Supervisor.js"
import { describe } from "./cause.js"
import { detached, detachFiber, withoutSpan } from "./tracing.js"

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

export class ChildNotFound extends Schema.TaggedError<ChildNotFound>()("ChildNotFound", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  override get message(): string {
    return `supervisor "${this.supervisor}" has no child "${this.child}"; see whichChildren`
  }
}

export class DuplicateChild extends Schema.TaggedError<DuplicateChild>()("DuplicateChild", {
  supervisor: Schema.String,
  child: Schema.String
}) {
  override get message(): string {
    return `supervisor "${this.supervisor}" already has a child "${this.child}"; pick another id`
  }
}

export class ChildAlreadyRunning extends Schema.TaggedError<ChildAlreadyRunning>()("ChildAlreadyRunning", {
  supervisor: Schema.String,
  child: Schema.String,
  status: Schema.Literal("running", "restarting")
}) {
  override get message(): string {
    return `child "${this.child}" of supervisor "${this.supervisor}" is ${this.status}; terminate it first`
  }
}

export const defaults = {
  maxRestarts: 3,
  period: Duration.seconds(5),
  shutdown: Duration.seconds(5)
} as const

type Running = { readonly _tag: "Running"; readonly child: Child; readonly scope: Scope.CloseableScope }
type Status = Running | { readonly _tag: "Restarting" } | { readonly _tag: "Stopped" }

const restarting: Status = { _tag: "Restarting" }
const stopped: Status = { _tag: "Stopped" }

export interface Entry<E> {
  readonly id: string
  readonly restart: RestartType
  readonly shutdown: Duration.Duration
  readonly start: Effect.Effect<Child, E, Scope.Scope>
  status: Status
}

export interface EngineOptions extends RestartOptions {
  readonly strategy: Strategy
  /** Dynamic supervisors forget children they will not restart, and stop all children at once. */
  readonly dynamic: boolean
}

export interface Engine<E> {
  readonly name: string
  readonly await: Effect.Effect<void, RestartIntensityExceeded>
  /** False once the engine shuts down or gives up. */
  readonly isRunning: () => boolean
  readonly entries: ReadonlyArray<Entry<E>>
  /** Runs `effect` alone among the engine's changes, without interruption once it has the lock. */
  readonly serialized: <A, E2, R>(effect: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2, R>
  /** Appends a child and starts it (call it serialized); a child that fails to start is removed. */
  readonly add: <A extends Child, E2 extends E>(
    spec: Omit<ChildSpec, "start">,
    start: Effect.Effect<A, E2, Scope.Scope>
  ) => Effect.Effect<A, E2>
  /** Starts a stopped child again (call it serialized). */
  readonly restart: (entry: Entry<E>) => Effect.Effect<Child, E>
  /** Stops a child within its shutdown timeout and, if it is temporary or dynamic, forgets it. */
  readonly terminate: (entry: Entry<E>) => Effect.Effect<void>
  readonly whichChildren: Effect.Effect<ReadonlyArray<ChildInfo>>
  readonly countChildren: Effect.Effect<ChildCounts>
}

/** Makes an engine whose children live as long as the current scope. */
export const makeEngine = <E>(options: EngineOptions): Effect.Effect<Engine<E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const name = options.name
    const maxRestarts = options.maxRestarts ?? defaults.maxRestarts
    const period = Duration.toMillis(Duration.decode(options.period ?? defaults.period))
    // Watchers and backoff timers live here; its first finalizer, run last, stops the children.
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const lock = yield* Effect.makeSemaphore(1)
    const ended = yield* Deferred.make<void, RestartIntensityExceeded>()
    const backoff = options.backoff === undefined ? undefined : yield* Schedule.driver(options.backoff)
    const entries: Array<Entry<E>> = []
    let restarts: Array<number> = []
    let shutDown = false
    // Children's ends, handled one after the other by one fiber of the supervisor's, as OTP's
    // supervisor takes its children's exit signals: a child started by a restart is forked from
    // that fiber, not from the watcher of the child before it. A fiber inherits its parent's fiber
    // refs, each with the stack of the fibers that set it, so restarts run one in another's watcher
    // grew those stacks by one entry per restart, each entry copied at every update of the ref
    // (1,200 deep after 1,200 restarts of a store: a restart's CPU grew with the restarts before it).
    const ends = yield* Queue.unbounded<Effect.Effect<void>>()

    // Children outlive the call that starts them: nothing started here runs in that call's span.
    const serialized = <A, E2, R>(effect: Effect.Effect<A, E2, R>) => serializedHere(detached(effect))
    // For the fiber that handles children's ends, detached once for its whole life.
    const serializedHere = <A, E2, R>(effect: Effect.Effect<A, E2, R>) =>
      lock.withPermits(1)(Effect.uninterruptible(effect))

    const forget = (entry: Entry<E>) => {
      const index = entries.indexOf(entry)
      if (index >= 0) entries.splice(index, 1)
    }

    // Children being stopped, each in its own fiber and within its timeout: shutdown waits for them too.
    const closing = new Map<Fiber.RuntimeFiber<void>, Entry<E>>()

    // The scope closes with how the child ended (a crash's failure, or a stop), so that what it
    // held can tell a crash from a stop: a crashed store's log skips the fsync `sync: "none"`
    // would give it on a clean close.
    const closeChild = (entry: Entry<E>, running: Running, end: Exit.Exit<unknown, unknown> = Exit.void) =>
      Effect.gen(function*() {
        entry.status = stopped
        // In its own fiber, so that a child past its timeout cannot hold the supervisor.
        const fiber = yield* Effect.forkDaemon(Scope.close(running.scope, end))
        closing.set(fiber, entry)
        fiber.addObserver(() => closing.delete(fiber))
        yield* awaitClose(fiber, entry)
      })

    const awaitClose = (fiber: Fiber.RuntimeFiber<void>, entry: Entry<E>) =>
      Effect.gen(function*() {
        if (!Duration.isFinite(entry.shutdown)) return yield* Effect.interruptible(Fiber.await(fiber))
        const done = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(entry.shutdown), Effect.interruptible)
        if (Option.isNone(done)) {
          closing.delete(fiber) // given up on: shutdown does not wait for it again
          yield* Effect.logWarning(
            `child "${entry.id}" of supervisor "${name}" did not stop within ` +
              `${Duration.format(entry.shutdown)}; it goes on stopping in the background`
          )
        }
      })

    // After a shutdown, the closes still going on: those of children whose watcher was stopped.
    const awaitClosing = Effect.suspend(() =>
      Effect.forEach(Array.from(closing), ([fiber, entry]) => awaitClose(fiber, entry), {
        concurrency: "unbounded",
        discard: true
      })
    )

    const terminate = (entry: Entry<E>) =>
      Effect.suspend(() => {
        const status = entry.status
        entry.status = stopped
        if (entry.restart === "temporary" || options.dynamic) forget(entry)
        return status._tag === "Running" ? closeChild(entry, status) : Effect.void
      })

    const shutdownAll = Effect.suspend(() => {
      const reversed = entries.slice().reverse()
      return Effect.forEach(reversed, terminate, {
        discard: true,
        concurrency: options.dynamic ? "unbounded" : 1
      })
    })

    const startEntry = <A extends Child, E2>(entry: Entry<E>, start: Effect.Effect<A, E2, Scope.Scope>) =>
      Effect.gen(function*() {
        const childScope = yield* Scope.make()
        // Interruptible, or a server started here would inherit an uninterruptible loop.
        const exit = yield* Effect.exit(Effect.interruptible(Scope.extend(start, childScope)))
        if (Exit.isFailure(exit)) {
          yield* Scope.close(childScope, exit)
          return yield* exit
        }
        const child = exit.value
        const running: Running = { _tag: "Running", child, scope: childScope }
        entry.status = running
        // A defect in handling one end is logged, and stops no later restart.
        const handle = (end: Exit.Exit<unknown, unknown>) =>
          Effect.catchAllCause(serializedHere(onEnd(entry, running, end)), defectOf(entry))
        // A child that says when it ends (a server) is watched with no fiber: a watcher fiber per
        // start was a fork, its first steps and its wake-up per restart. With the registry's the
        // same, a store's crash to its next answer in memory went from 0.95x to 0.89x of main's
        // (14 interleaved rounds of 200 crashes, 50 interpreter steps fewer of about 610).
        if (child.unsafeOnEnd !== undefined) child.unsafeOnEnd((end) => ends.unsafeOffer(handle(end)))
        else {
          yield* Effect.exit(child.await).pipe(
            Effect.flatMap((end) => Queue.offer(ends, handle(end))),
            Effect.interruptible,
            Effect.forkIn(scope)
          )
        }
        return child
      })

    const defectOf = (entry: Entry<E>) => (cause: Cause.Cause<unknown>) =>
      Effect.logError(`supervisor "${name}": ending child "${entry.id}" failed`, cause).pipe(
        Effect.annotateLogs({ supervisor: name, child: entry.id })
      )

    // The child ended by itself: release its scope, then restart as its type and the strategy say.
    const onEnd = (entry: Entry<E>, running: Running, end: Exit.Exit<unknown, unknown>) =>
      Effect.gen(function*() {
        if (shutDown || entry.status !== running) return
        // A child given all the time it takes is closed here, not in a fiber of its own: that fiber
        // only serves to stop waiting at a timeout, and cost a fork and a join per restart.
        if (Duration.isFinite(entry.shutdown)) yield* closeChild(entry, running, end)
        else {
          entry.status = stopped
          // A finalizer that dies is logged, and does not keep the child from its restart.
          yield* Effect.catchAllCause(Scope.close(running.scope, end), defectOf(entry))
        }
        const crashed = Exit.isFailure(end) && !Cause.isInterruptedOnly(end.cause)
        yield* afterEnd(entry, crashed ? end.cause : undefined)
      })

    const afterEnd = (entry: Entry<E>, crash: Cause.Cause<unknown> | undefined): Effect.Effect<void> =>
      Effect.gen(function*() {
        const restart = entry.restart === "permanent" || (entry.restart === "transient" && crash !== undefined)
        if (!restart) {
          if (entry.restart === "temporary" || options.dynamic) forget(entry)
          return
        }
        const reason = crash === undefined ? "it ended normally" : describe(crash)
        yield* Effect.logWarning(`supervisor "${name}" restarts child "${entry.id}": ${reason}`).pipe(
          Effect.annotateLogs({ supervisor: name, child: entry.id })
        )
        if (yield* exceedsIntensity) return yield* giveUp(entry, reason)
        const group = groupOf(entry)
        for (const sibling of group.slice().reverse()) {
          if (sibling !== entry && sibling.status._tag !== "Stopped") {
            if (sibling.restart === "temporary") yield* terminate(sibling)
            else yield* terminate(sibling).pipe(Effect.zipRight(Effect.sync(() => (sibling.status = restarting))))
          }
        }
        entry.status = restarting
        yield* scheduleRestart(group.filter((member) => member.status === restarting))
      })

    const groupOf = (entry: Entry<E>): ReadonlyArray<Entry<E>> => {
      switch (options.strategy) {
        case "one_for_one":
          return [entry]
        case "one_for_all":
          return entries.slice()
        case "rest_for_one":
          return entries.slice(entries.indexOf(entry))
      }
    }

    // Records a restart now; true when the window then holds more than `maxRestarts`.
    const exceedsIntensity = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      restarts = restarts.filter((time) => time >= now - period)
      if (restarts.length === 0 && backoff !== undefined) yield* backoff.reset
      restarts.push(now)
      return restarts.length > maxRestarts
    })

    const giveUp = (entry: Entry<E>, reason: string) =>
      Effect.gen(function*() {
        shutDown = true
        const error = new RestartIntensityExceeded({
          supervisor: name,
          child: entry.id,
          maxRestarts,
          periodMillis: period,
          reason
        })
        yield* Effect.logError(error.message).pipe(Effect.annotateLogs({ supervisor: name, child: entry.id }))
        yield* shutdownAll
        yield* awaitClosing
        yield* Deferred.fail(ended, error)
      })

    const scheduleRestart = (group: ReadonlyArray<Entry<E>>): Effect.Effect<void> => {
      if (backoff === undefined) return startGroup(group)
      // A finished schedule fails with `None`: then restart at once.
      return Effect.ignore(backoff.next(undefined)).pipe(
        Effect.zipRight(serialized(startGroup(group))),
        Effect.interruptible,
        Effect.forkIn(scope),
        Effect.asVoid
      )
    }

    // Starts each member still waiting, in order; a member that fails to start counts as a crash.
    const startGroup = (group: ReadonlyArray<Entry<E>>): Effect.Effect<void> =>
      Effect.gen(function*() {
        for (const entry of group) {
          if (shutDown) return
          if (entry.status !== restarting) continue
          const exit = yield* Effect.exit(startEntry(entry, entry.start))
          if (Exit.isFailure(exit)) {
            entry.status = stopped
            return yield* afterEnd(entry, exit.cause)
          }
        }
      })

    yield* Scope.addFinalizer(
      scope,
      serialized(Effect.suspend(() => {
        if (shutDown) return Effect.void
        shutDown = true
        return shutdownAll.pipe(Effect.zipRight(awaitClosing), Effect.zipRight(Deferred.succeed(ended, undefined)))
      }))
    )
    // Forked after that finalizer, so stopped before it runs, as the children's watchers are.
    yield* Effect.forkIn(Effect.zipRight(detachFiber, Effect.interruptible(Effect.forever(Effect.flatten(Queue.take(ends))))), scope)

    const engine: Engine<E> = {
      name,
      await: Deferred.await(ended),
      isRunning: () => !shutDown,
      entries,
      serialized,
      add: (spec, start) =>
        Effect.gen(function*() {
          const entry: Entry<E> = {
            id: spec.id,
            restart: spec.restart ?? "permanent",
            shutdown: Duration.decode(spec.shutdown ?? defaults.shutdown),
            start,
            status: stopped
          }
          entries.push(entry)
          const exit = yield* Effect.exit(startEntry(entry, start))
          if (Exit.isFailure(exit)) forget(entry)
          return yield* exit
        }),
      restart: (entry) => startEntry(entry, entry.start),
      terminate,
      whichChildren: Effect.sync(() => entries.map(describeEntry)),
      countChildren: Effect.sync(() => ({
        specs: entries.length,
        active: entries.filter((entry) => entry.status._tag === "Running").length
      }))
    }
    return engine
  })

const describeEntry = <E>(entry: Entry<E>): ChildInfo => ({
  id: entry.id,
  restart: entry.restart,
  status: entry.status._tag === "Running" ? "running" : entry.status._tag === "Restarting" ? "restarting" : "stopped",
  child: entry.status._tag === "Running" ? Option.some(entry.status.child) : Option.none()
})

/**
 * A start effect that finds what it needs in `context` and only asks for its scope; not in the
 * span `context` was captured in, as the child outlives it.
 */
export const provideContext = <A, E, R>(
  start: Effect.Effect<A, E, R>,
  context: NoInfer<Context.Context<Exclude<R, Scope.Scope>>>
): Effect.Effect<A, E, Scope.Scope> => {
  const own = withoutSpan(context)
  return Effect.mapInputContext(
    start,
    // TypeScript cannot see that `Exclude<R, Scope> | Scope` covers `R`.
    (scope: Context.Context<Scope.Scope>) => Context.merge(own, scope) as Context.Context<R>
  )
}

export const startSupervisor = <E, R>(
  options: SupervisorOptions<E, R>
): Effect.Effect<Supervisor<E>, E, Exclude<R, Scope.Scope> | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<Exclude<R, Scope.Scope>>()
    const engine = yield* makeEngine<E>({ ...options, strategy: options.strategy ?? "one_for_one", dynamic: false })
    const find = (id: string) =>
      Effect.suspend(() => {
        const entry = engine.entries.find((candidate) => candidate.id === id)
        return entry === undefined ? Effect.fail(new ChildNotFound({ supervisor: engine.name, child: id })) : Effect.succeed(entry)
      })
    yield* engine.serialized(Effect.forEach(options.children, (spec) => engine.add(spec, provideContext(spec.start, context)), {
      discard: true
    })).pipe(
      // A child that failed to start: stop the ones before it, in reverse order, and fail.
      Effect.tapErrorCause(() => Effect.forEach(engine.entries.slice().reverse(), engine.terminate, { discard: true }))
    )
    const supervisor: Supervisor<E> = {
      name: engine.name,
      await: engine.await,
      isRunning: engine.isRunning,
      startChild: <A extends Child, E2, R2>(spec: ChildSpec<A, E2, R2>) =>
        Effect.flatMap(Effect.context<Exclude<R2, Scope.Scope>>(), (context) =>
          engine.serialized(Effect.suspend((): Effect.Effect<A, E2 | DuplicateChild> =>
            engine.entries.some((entry) => entry.id === spec.id)
              ? Effect.fail(new DuplicateChild({ supervisor: engine.name, child: spec.id }))
              // A child added at run time may fail in its own way: the engine keeps `unknown`.
              : (engine as Engine<unknown>).add(spec, provideContext(spec.start, context))
          ))),
      whichChildren: engine.whichChildren,
      countChildren: engine.countChildren,
      restartChild: (id) =>
        engine.serialized(Effect.gen(function*() {
          const entry = yield* find(id)
          if (entry.status._tag !== "Stopped") {
            return yield* new ChildAlreadyRunning({
              supervisor: engine.name,
              child: id,
              status: entry.status._tag === "Running" ? "running" : "restarting"
            })
          }
          return yield* engine.restart(entry)
        })),
      terminateChild: (id) => engine.serialized(Effect.flatMap(find(id), engine.terminate))
    }
    return supervisor
  })
