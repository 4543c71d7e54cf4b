import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as Registry from "../../src/otp/Registry.js"
import type * as Server from "../../src/otp/Server.js"
import * as Supervisor from "../../src/otp/Supervisor.js"
import { forkNow } from "./forkNow.js"
import { type Command, makeWorkers } from "./workers.js"

type Worker = Server.Server<Command, string>

describe("Registry", () => {
  it.scoped("maps a unique name to a running server and refuses a second taker", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const names = yield* Registry.make<Worker>()
      const a = yield* workers.start("a")
      const b = yield* workers.start("b")
      yield* names.register("x", a)
      expect(names.unsafeLookup("x")).toBe(a)
      expect(yield* names.lookup("x")).toEqual(Option.some(a))
      const error = yield* Effect.flip(names.register("x", b))
      expect(error).toBeInstanceOf(Registry.AlreadyRegistered)
      expect(yield* names.names).toEqual(["x"])
    }))

  it.scoped("frees a name when its server ends, and when the registering scope closes", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const names = yield* Registry.make<Worker>()
      yield* names.register("a", yield* workers.start("a"))
      yield* workers.crash("a")
      yield* workers.eventually(() => Effect.map(names.names, (all) => all.length === 0))
      const scope = yield* Scope.make()
      yield* names.register("b", yield* workers.start("b")).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      expect(names.unsafeLookup("b")).toBeUndefined()
    }))

  it.scoped("frees the name of a child without unsafeOnEnd when its await ends", () =>
    Effect.gen(function*() {
      const names = yield* Registry.make<Supervisor.Child>()
      const end = yield* Deferred.make<void>()
      yield* names.register("plain", { await: Deferred.await(end) })
      expect(names.unsafeLookup("plain")).toBeDefined()
      yield* Deferred.succeed(end, undefined)
      while (names.unsafeLookup("plain") !== undefined) yield* Effect.yieldNow()
    }))

  it.scoped("calls by name; the restarted server takes the name again", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const names = yield* Registry.make<Worker>()
      yield* Supervisor.start({
        name: "sup",
        children: [{ id: "a", start: Registry.via(names, "counter", workers.start("a")) }]
      })
      expect(yield* Registry.call(names, "counter", "ping")).toBe("a")
      const first = names.unsafeLookup("counter")
      yield* workers.crash("a")
      // The old server frees the name as it ends, and the restarted one takes it.
      yield* workers.eventually(() =>
        Effect.sync(() => names.unsafeLookup("counter") !== undefined && names.unsafeLookup("counter") !== first)
      )
      expect(yield* Registry.call(names, "counter", "ping")).toBe("a")
      const missing = yield* Effect.flip(Registry.call(names, "nobody", "ping"))
      expect(missing).toBeInstanceOf(Registry.NotRegistered)
    }))

  it.scoped("whenRegistered waits until a server takes the name", () =>
    Effect.gen(function*() {
      const workers = yield* makeWorkers
      const names = yield* Registry.make<Worker>()
      const waiting = yield* forkNow(names.whenRegistered("late"))
      const late = yield* workers.start("late")
      yield* names.register("late", late)
      expect(yield* Fiber.join(waiting)).toBe(late)
    }))
})
