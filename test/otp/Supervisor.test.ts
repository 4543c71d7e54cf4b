import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Ref, Schedule, Scope, TestClock } from "effect"
import * as Supervisor from "../../src/otp/Supervisor.js"
import { makeWorkers, since, type Workers } from "./workers.js"

const threeWorkers = (
  workers: Workers,
  strategy: Supervisor.Strategy,
  restart: Supervisor.RestartType = "permanent"
) =>
  Supervisor.start({
    name: "sup",
    strategy,
    children: ["a", "b", "c"].map((id) => ({ id, start: workers.start(id), restart }))
  })

const statuses = (supervisor: Supervisor.Supervisor) =>
  Effect.map(supervisor.whichChildren, (children) => children.map((child) => `${child.id}:${child.status}`))

const hasEvent = (workers: Workers, event: string, from = 0) => () =>
  Effect.map(since(workers, from), (events) => events.includes(event))

describe("Supervisor", () => {
  it.scoped("starts children in order and reports them", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "one_for_one")
      expect(yield* Ref.get(workers.events)).toEqual(["start:a", "start:b", "start:c"])
      expect(yield* statuses(supervisor)).toEqual(["a:running", "b:running", "c:running"])
      expect(yield* supervisor.countChildren).toEqual({ specs: 3, active: 3 })
    }))

  it.scoped("restarts a child from a fiber of its own: a child's fiber refs do not deepen with the restarts before it", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      // At each start, the deepest stack of a fiber ref: an entry for each fiber that set it.
      const depths: Array<number> = []
      const depth = Effect.map(Effect.getFiberRefs, (refs) => Math.max(...Array.from(refs.locals.values(), (stack) => stack.length)))
      yield* Supervisor.start({
        name: "sup",
        maxRestarts: 100,
        children: [{ id: "a", start: Effect.tap(workers.start("a"), () => Effect.map(depth, (deepest) => depths.push(deepest))) }]
      })
      for (let restarts = 1; restarts <= 20; restarts++) {
        yield* workers.crash("a")
        yield* workers.eventually(() => Effect.succeed(depths.length > restarts))
      }
      expect(depths[20]).toBe(depths[1])
    }))

  it.scoped("restarts a child without unsafeOnEnd when its await fails, as one with it (a server)", () =>
    Effect.gen(function*() {
      const starts: Array<Deferred.Deferred<void, string>> = []
      yield* Supervisor.start({
        name: "sup",
        children: [{
          id: "plain",
          start: Effect.map(Deferred.make<void, string>(), (end) => {
            starts.push(end)
            return { await: Deferred.await(end) }
          })
        }]
      })
      expect(starts).toHaveLength(1)
      yield* Deferred.fail(starts[0]!, "crashed")
      while (starts.length < 2) yield* Effect.yieldNow()
    }))

  it.scoped("restarts a child whose finalizer dies, and goes on restarting it", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      yield* Supervisor.start({
        name: "sup",
        children: [{
          id: "a",
          start: Effect.zipRight(Effect.addFinalizer(() => Effect.dieMessage("a finalizer's bug")), workers.start("a")),
          shutdown: Duration.infinity
        }]
      })
      for (let restarts = 1; restarts <= 2; restarts++) {
        yield* workers.crash("a")
        yield* workers.eventually(() =>
          Effect.map(Ref.get(workers.events), (events) => events.filter((event) => event === "start:a").length > restarts)
        )
      }
    }))

  it.scoped("one_for_one restarts only the child that crashed", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      yield* threeWorkers(workers, "one_for_one")
      yield* workers.crash("b")
      yield* workers.eventually(hasEvent(workers, "start:b", 3))
      expect(yield* since(workers, 3)).toEqual(["stop:b", "start:b"])
    }))

  it.scoped("one_for_all stops the others in reverse order, then starts all in order", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      yield* threeWorkers(workers, "one_for_all")
      yield* workers.crash("b")
      yield* workers.eventually(hasEvent(workers, "start:c", 3))
      expect(yield* since(workers, 3)).toEqual(["stop:b", "stop:c", "stop:a", "start:a", "start:b", "start:c"])
    }))

  it.scoped("rest_for_one restarts the child and those started after it", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      yield* threeWorkers(workers, "rest_for_one")
      yield* workers.crash("b")
      yield* workers.eventually(hasEvent(workers, "start:c", 3))
      expect(yield* since(workers, 3)).toEqual(["stop:b", "stop:c", "start:b", "start:c"])
    }))

  it.scoped("permanent children are restarted after a normal stop too", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "one_for_one", "permanent")
      yield* workers.stop("a")
      yield* workers.eventually(hasEvent(workers, "start:a", 3))
      expect(yield* statuses(supervisor)).toEqual(["a:running", "b:running", "c:running"])
    }))

  it.scoped("transient children are restarted after a crash only; a normal end keeps the spec", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "one_for_one", "transient")
      yield* workers.crash("a")
      yield* workers.eventually(hasEvent(workers, "start:a", 3))
      yield* workers.stop("b")
      yield* workers.eventually(() =>
        Effect.map(statuses(supervisor), (all) => all.includes("b:stopped"))
      )
      expect(yield* statuses(supervisor)).toEqual(["a:running", "b:stopped", "c:running"])
      expect(yield* since(workers, 3)).toEqual(["stop:a", "start:a", "stop:b"])
    }))

  it.scoped("temporary children are never restarted, and are forgotten when they end", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "one_for_one", "temporary")
      yield* workers.crash("a")
      yield* workers.stop("b")
      yield* workers.eventually(() => Effect.map(supervisor.countChildren, (counts) => counts.specs === 1))
      expect(yield* statuses(supervisor)).toEqual(["c:running"])
    }))

  it.scoped("a temporary sibling caught in a group restart is stopped and not restarted", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* Supervisor.start({
        name: "sup",
        strategy: "one_for_all",
        children: [
          { id: "a", start: workers.start("a") },
          { id: "t", start: workers.start("t"), restart: "temporary" }
        ]
      })
      yield* workers.crash("a")
      yield* workers.eventually(hasEvent(workers, "start:a", 2))
      expect(yield* since(workers, 2)).toEqual(["stop:a", "stop:t", "start:a"])
      expect(yield* statuses(supervisor)).toEqual(["a:running"])
    }))

  it.scoped("allows 3 restarts within 5 seconds, and gives up on the 4th, stopping the rest", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "one_for_one")
      for (let i = 1; i <= 3; i++) {
        yield* workers.crash("b")
        yield* workers.eventually(() => Effect.map(since(workers, 3), (events) => events.length === 2 * i))
        yield* TestClock.adjust("1 second")
      }
      // Each restart above was decided, and not a give-up, before its "start:b" was recorded.
      expect(supervisor.isRunning()).toBe(true)
      yield* workers.crash("b")
      const error = yield* Effect.flip(supervisor.await)
      expect(supervisor.isRunning()).toBe(false)
      expect(error).toBeInstanceOf(Supervisor.RestartIntensityExceeded)
      expect(error.child).toBe("b")
      expect(error.message).toContain("more than 3 restarts within 5000 ms")
      // Gave up: b is not started again and the others are stopped in reverse order.
      expect((yield* since(workers, 9)).slice(-3)).toEqual(["stop:b", "stop:c", "stop:a"])
      expect(yield* supervisor.countChildren).toEqual({ specs: 3, active: 0 })
    }))

  it.scoped("counts restarts in a sliding window: spread out, they never add up", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "one_for_one")
      for (let i = 1; i <= 10; i++) {
        yield* workers.crash("b")
        yield* workers.eventually(() => Effect.map(since(workers, 3), (events) => events.length === 2 * i))
        yield* TestClock.adjust("2 seconds")
      }
      expect(supervisor.isRunning()).toBe(true)
      yield* workers.eventually(() => Effect.map(supervisor.countChildren, (counts) => counts.active === 3))
    }))

  it.scoped("keeps a restart exactly one period old in the window, as OTP does", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* Supervisor.start({
        name: "sup",
        maxRestarts: 1,
        period: "5 seconds",
        children: [{ id: "a", start: workers.start("a") }]
      })
      yield* workers.crash("a")
      yield* workers.eventually(hasEvent(workers, "start:a", 1))
      yield* TestClock.adjust("5 seconds")
      yield* workers.crash("a")
      expect((yield* Effect.flip(supervisor.await))._tag).toBe("RestartIntensityExceeded")
    }))

  it.scoped("escalates: a child supervisor that gives up is restarted by its parent", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const parent = yield* Supervisor.start({
        name: "parent",
        children: [{
          id: "child",
          start: Supervisor.start({ name: "child", maxRestarts: 0, children: [{ id: "w", start: workers.start("w") }] }),
          shutdown: Duration.infinity
        }]
      })
      yield* workers.crash("w")
      yield* workers.eventually(hasEvent(workers, "start:w", 1))
      expect(yield* since(workers, 0)).toEqual(["start:w", "stop:w", "start:w"])
      expect(parent.isRunning()).toBe(true)
      expect(yield* statuses(parent)).toEqual(["child:running"])
    }))

  it.effect("closing its scope stops the children in reverse start order", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const scope = yield* Scope.make()
      const supervisor = yield* threeWorkers(workers, "one_for_one").pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      expect(yield* since(workers, 3)).toEqual(["stop:c", "stop:b", "stop:a"])
      yield* supervisor.await
    }))

  it.effect("gives each child its shutdown timeout, then goes on with the next", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const scope = yield* Scope.make()
      yield* Supervisor.start({
        name: "sup",
        children: [
          { id: "a", start: workers.start("a") },
          { id: "slow", start: workers.start("slow", "1 hour"), shutdown: "1 second" }
        ]
      }).pipe(Scope.extend(scope))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      // `slow` is still in its terminate hook; `a` was stopped regardless.
      expect(yield* since(workers, 2)).toEqual(["stop:a"])
      yield* TestClock.adjust("1 hour")
      yield* workers.eventually(hasEvent(workers, "stop:slow"))
    }))

  it.effect("shutdown waits for a crashed child whose resources are still being released", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const scope = yield* Scope.make()
      const released = yield* Ref.make(false)
      const slowToRelease = Effect.zipRight(
        Effect.addFinalizer(() => Effect.zipRight(Effect.sleep("1 second"), Ref.set(released, true))),
        workers.start("a")
      )
      yield* Supervisor.start({ name: "sup", children: [{ id: "a", start: slowToRelease, shutdown: "1 minute" }] })
        .pipe(Scope.extend(scope))
      yield* workers.crash("a")
      // What `released` holds the moment the close ends: the release must have finished first.
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void).pipe(Effect.zipRight(Ref.get(released))))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(closing)).toBe(true)
    }))

  it.scoped("spaces restarts out with a backoff schedule", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* Supervisor.start({
        name: "sup",
        maxRestarts: 10,
        backoff: Schedule.exponential("100 millis"),
        children: [{ id: "a", start: workers.start("a") }]
      })
      yield* workers.crash("a")
      yield* workers.eventually(() => Effect.map(statuses(supervisor), (all) => all[0] === "a:restarting"))
      yield* TestClock.adjust("99 millis")
      expect(yield* statuses(supervisor)).toEqual(["a:restarting"])
      yield* TestClock.adjust("1 millis")
      yield* workers.eventually(hasEvent(workers, "start:a", 1))
      // The second restart in a row waits twice as long.
      yield* workers.crash("a")
      yield* TestClock.adjust("100 millis")
      expect(yield* statuses(supervisor)).toEqual(["a:restarting"])
      yield* TestClock.adjust("100 millis")
      yield* workers.eventually(() => Effect.map(statuses(supervisor), (all) => all[0] === "a:running"))
    }))

  it.scoped("terminateChild stops a child and restartChild starts it again", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "rest_for_one")
      yield* Supervisor.terminateChild(supervisor, "b")
      expect(yield* statuses(supervisor)).toEqual(["a:running", "b:stopped", "c:running"])
      expect(yield* supervisor.countChildren).toEqual({ specs: 3, active: 2 })
      const running = yield* Effect.flip(Supervisor.restartChild(supervisor, "a"))
      expect(running).toBeInstanceOf(Supervisor.ChildAlreadyRunning)
      yield* Supervisor.restartChild(supervisor, "b")
      expect(yield* statuses(supervisor)).toEqual(["a:running", "b:running", "c:running"])
      expect((yield* Effect.flip(Supervisor.terminateChild(supervisor, "zz")))._tag).toBe("ChildNotFound")
      expect(yield* since(workers, 3)).toEqual(["stop:b", "start:b"])
    }))

  it.scoped("startChild adds a child last, supervised like the others; ids stay unique", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* threeWorkers(workers, "rest_for_one")
      yield* Supervisor.startChild(supervisor, { id: "d", start: workers.start("d") })
      expect(yield* statuses(supervisor)).toEqual(["a:running", "b:running", "c:running", "d:running"])
      const duplicate = yield* Effect.flip(Supervisor.startChild(supervisor, { id: "a", start: workers.start("a") }))
      expect(duplicate).toBeInstanceOf(Supervisor.DuplicateChild)
      yield* workers.crash("c")
      yield* workers.eventually(hasEvent(workers, "start:d", 5))
      expect(yield* since(workers, 4)).toEqual(["stop:c", "stop:d", "start:c", "start:d"])
    }))

  it.effect("fails to start when a child fails to start, stopping those before it", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const error = yield* Supervisor.start({
        name: "sup",
        children: [
          { id: "a", start: workers.start("a") },
          { id: "bad", start: Effect.fail("no disk" as const) }
        ]
      }).pipe(Effect.scoped, Effect.flip)
      expect(error).toBe("no disk")
      expect(yield* Ref.get(workers.events)).toEqual(["start:a", "stop:a"])
    }))

  it.scoped("a child that fails to restart counts as crashing again", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const attempts = yield* Ref.make(0)
      const flaky = Effect.flatMap(Ref.getAndUpdate(attempts, (n) => n + 1), (n) =>
        n === 0 ? workers.start("f") : Effect.fail("still broken"))
      const supervisor = yield* Supervisor.start({ name: "sup", children: [{ id: "f", start: flaky }] })
      yield* workers.crash("f")
      const error = yield* Effect.flip(supervisor.await)
      expect(error.reason).toContain("still broken")
      expect(yield* Ref.get(attempts)).toBe(4) // the first start and 3 restarts
    }))
})
