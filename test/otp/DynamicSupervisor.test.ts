import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Ref, Scope } from "effect"
import * as DynamicSupervisor from "../../src/otp/DynamicSupervisor.js"
import { makeWorkers, since } from "./workers.js"

describe("DynamicSupervisor", () => {
  it.scoped("starts children at run time and restarts a crashed permanent one", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* DynamicSupervisor.start({ name: "dyn" })
      const a = yield* supervisor.startChild({ id: "a", start: workers.start("a") })
      expect(yield* a.call("ping")).toBe("a")
      yield* workers.crash("a")
      yield* workers.eventually(() => Effect.map(since(workers, 0), (events) => events.length === 3))
      expect(yield* since(workers, 0)).toEqual(["start:a", "stop:a", "start:a"])
      expect(yield* workers.handles.get("a")!.call("ping")).toBe("a")
      expect(yield* supervisor.countChildren).toEqual({ specs: 1, active: 1 })
    }))

  it.scoped("refuses a child past maxChildren with MaxChildrenReached, starting nothing", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* DynamicSupervisor.start({ name: "dyn", maxChildren: 2 })
      yield* DynamicSupervisor.startChild(supervisor, { id: "a", start: workers.start("a") })
      const b = yield* DynamicSupervisor.startChild(supervisor, { id: "b", start: workers.start("b") })
      const error = yield* Effect.flip(DynamicSupervisor.startChild(supervisor, { id: "c", start: workers.start("c") }))
      if (!(error instanceof DynamicSupervisor.MaxChildrenReached)) return yield* Effect.die(error)
      expect(error.message).toContain("maximum of 2 children")
      expect(yield* Ref.get(workers.events)).toEqual(["start:a", "start:b"])
      // Room again once a child is gone.
      yield* DynamicSupervisor.terminateChild(supervisor, b)
      yield* supervisor.startChild({ id: "c", start: workers.start("c") })
      expect(yield* supervisor.countChildren).toEqual({ specs: 2, active: 2 })
    }))

  it.scoped("forgets temporary children and transient ones that end normally", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* DynamicSupervisor.start({ name: "dyn" })
      yield* supervisor.startChild({ id: "t", start: workers.start("t"), restart: "temporary" })
      yield* supervisor.startChild({ id: "n", start: workers.start("n"), restart: "transient" })
      yield* workers.crash("t")
      yield* workers.stop("n")
      yield* workers.eventually(() => Effect.map(supervisor.countChildren, (counts) => counts.specs === 0))
      expect(yield* since(workers, 2)).toEqual(["stop:t", "stop:n"])
    }))

  it.scoped("gives up past its restart intensity, over all its children", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const supervisor = yield* DynamicSupervisor.start({ name: "dyn", maxRestarts: 1 })
      yield* supervisor.startChild({ id: "a", start: workers.start("a") })
      yield* supervisor.startChild({ id: "b", start: workers.start("b") })
      yield* workers.crash("a")
      yield* workers.eventually(() => Effect.map(since(workers, 2), (events) => events.includes("start:a")))
      expect(supervisor.isRunning()).toBe(true)
      yield* workers.crash("b")
      const error = yield* Effect.flip(supervisor.await)
      expect(error._tag).toBe("RestartIntensityExceeded")
      expect(supervisor.isRunning()).toBe(false)
      expect(yield* supervisor.countChildren).toEqual({ specs: 0, active: 0 })
    }))

  it.effect("fails startChild with the child's error and keeps nothing", () =>
    Effect.gen(function*() {
      const supervisor = yield* DynamicSupervisor.start({ name: "dyn" })
      const error = yield* Effect.flip(supervisor.startChild({ id: "bad", start: Effect.fail("nope" as const) }))
      expect(error).toBe("nope")
      expect(yield* supervisor.countChildren).toEqual({ specs: 0, active: 0 })
    }).pipe(Effect.scoped))

  it.effect("closing its scope stops every child, running their terminate hooks", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const scope = yield* Scope.make()
      const supervisor = yield* DynamicSupervisor.start({ name: "dyn" }).pipe(Scope.extend(scope))
      for (const id of ["a", "b", "c"]) yield* supervisor.startChild({ id, start: workers.start(id) })
      yield* Scope.close(scope, Exit.void)
      expect([...(yield* since(workers, 3))].sort()).toEqual(["stop:a", "stop:b", "stop:c"])
      yield* supervisor.await
    }))
})
