import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Duration, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import * as Server from "../../src/otp/Server.js"

// A counter: calls read or add, casts add without a reply.
type Request = { readonly _tag: "Get" } | { readonly _tag: "Add"; readonly n: number } | { readonly _tag: "Fail" } | {
  readonly _tag: "Die"
} | { readonly _tag: "Block"; readonly until: Deferred.Deferred<void>; readonly started?: Deferred.Deferred<void> }

class Refused extends Data.TaggedError("Refused") {}

const counter = (log?: Ref.Ref<ReadonlyArray<string>>) =>
  Server.start<number, Request, number, Refused, number>({
    init: Effect.succeed(0),
    handleCall: (request, state) => {
      switch (request._tag) {
        case "Get":
          return Effect.succeed([state, state] as const)
        case "Add":
          return Effect.succeed([state + request.n, state + request.n] as const)
        case "Fail":
          return Effect.fail(new Refused())
        case "Die":
          return Effect.die(new Error("boom"))
        case "Block":
          return Effect.zipRight(
            request.started ? Deferred.succeed(request.started, undefined) : Effect.void,
            Effect.as(Deferred.await(request.until), [state, state] as const)
          )
      }
    },
    handleCast: (n, state) => Effect.succeed(state + n),
    terminate: (reason, state) =>
      log ? Ref.update(log, (lines) => [...lines, `${reason._tag}:${state}`]) : Effect.void
  }, { name: "counter", capacity: 4 })

describe("Server", () => {
  it.scoped("handles casts and calls from one caller in order", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      yield* server.cast(1)
      yield* server.cast(2)
      expect(yield* server.call({ _tag: "Get" })).toBe(3)
      yield* server.cast(10)
      expect(yield* server.call({ _tag: "Add", n: 1 })).toBe(14)
    }))

  it.scoped("answers a handler's failure to that caller only, keeping the state", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      yield* server.call({ _tag: "Add", n: 5 })
      expect((yield* Effect.flip(server.call({ _tag: "Fail" })))._tag).toBe("Refused")
      expect(yield* server.call({ _tag: "Get" })).toBe(5)
    }))

  it.scoped("fails a call that is not answered in time with CallTimeout, and skips it later", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      const gate = yield* Deferred.make<void>()
      const blocked = yield* Effect.fork(server.call({ _tag: "Block", until: gate }, { timeout: Duration.infinity }))
      const late = yield* Effect.fork(server.call({ _tag: "Add", n: 100 }, { timeout: "1 second" }))
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(late).pipe(Effect.flip)
      expect(error._tag).toBe("CallTimeout")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(blocked)
      // The timed-out Add was skipped: its caller had given up.
      expect(yield* server.call({ _tag: "Get" })).toBe(0)
    }))

  it.scoped("answers Overloaded at once when the mailbox is full", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocked = yield* Effect.fork(server.call({ _tag: "Block", until: gate, started }, { timeout: Duration.infinity }))
      yield* Deferred.await(started) // the server holds the call: the mailbox is empty
      for (let i = 0; i < 4; i++) yield* server.cast(1)
      const error = yield* Effect.flip(server.cast(1))
      expect(error).toBeInstanceOf(Server.Overloaded)
      expect((yield* Effect.flip(server.call({ _tag: "Get" })))._tag).toBe("Overloaded")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(blocked)
      expect(yield* server.call({ _tag: "Get" })).toBe(4)
    }))

  it.scoped("fails the call in hand and every queued call when stopped; none hangs", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const server = yield* counter(log)
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocked = yield* Effect.fork(server.call({ _tag: "Block", until: gate, started }, { timeout: Duration.infinity }))
      yield* Deferred.await(started)
      const queued = yield* Effect.forkAll(
        [1, 2, 3].map((n) => server.call({ _tag: "Add", n }, { timeout: Duration.infinity }))
      )
      yield* Effect.yieldNow()
      const stopping = yield* Effect.fork(server.stop)
      yield* Effect.yieldNow()
      // The batch in hand finishes first: stop waits for it.
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stopping)
      expect(yield* Fiber.join(blocked)).toBe(0)
      const exit = yield* Fiber.await(queued)
      expect(Exit.isFailure(exit)).toBe(true)
      expect((yield* Effect.flip(server.call({ _tag: "Get" })))._tag).toBe("ServerStopped")
      expect(yield* Ref.get(log)).toEqual(["Normal:0"])
      expect(server.isRunning()).toBe(false)
    }))

  it.scoped("crashes on a defect: callers get ServerStopped, terminate sees the crash, await fails", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const server = yield* counter(log)
      yield* server.cast(7)
      const crashed = yield* Effect.flip(server.call({ _tag: "Die" }))
      expect(crashed._tag).toBe("ServerStopped")
      expect(crashed.message).toContain("crashed")
      const ended = yield* Effect.exit(server.await)
      expect(Exit.isFailure(ended)).toBe(true)
      expect(yield* Ref.get(log)).toEqual(["Crashed:7"])
      expect((yield* Effect.flip(server.cast(1)))._tag).toBe("ServerStopped")
    }))

  it.scoped("takes every waiting call as one batch with handleCalls", () =>
    Effect.gen(function*() {
      const batches = yield* Ref.make<ReadonlyArray<number>>([])
      const server = yield* Server.start<number, number, number>({
        init: Effect.succeed(0),
        handleCalls: (requests, state) =>
          Effect.gen(function*() {
            yield* Ref.update(batches, (sizes) => [...sizes, requests.length])
            let next = state
            const exits = requests.map((n) => Exit.succeed((next += n)))
            return [exits, next] as const
          })
      }, { name: "batcher" })
      const replies = yield* Effect.all(Array.from({ length: 50 }, () => server.call(1)), { concurrency: "unbounded" })
      expect([...replies].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      const sizes = yield* Ref.get(batches)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(50)
      expect(sizes.length).toBeLessThan(50)
    }))

  it.effect("stops with its scope", () =>
    Effect.gen(function*() {
      const server = yield* Effect.scoped(counter())
      expect(server.isRunning()).toBe(false)
      expect((yield* Effect.flip(server.call({ _tag: "Get" })))._tag).toBe("ServerStopped")
    }))

  it.scopedLive("a caller in a tight loop of calls does not starve the event loop: timers still fire", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      let calls = 0
      let firedAt: number | undefined
      // A real timer: it can only fire if the event loop gets a turn while the loop runs.
      setTimeout(() => (firedAt = calls), 1)
      while (firedAt === undefined && calls < 200_000) {
        yield* server.call({ _tag: "Add", n: 1 })
        calls++
      }
      expect(firedAt).toBeDefined()
      expect(calls).toBeLessThan(200_000)
    }))
})
