import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, FiberRef, HashMap, Logger, Option, Ref, TestClock } from "effect"
import * as Server from "../../src/otp/Server.js"
import { forkNow } from "./forkNow.js"

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

  it.scoped("a call that times out in the mailbox behind a slow call is taken: false, and is never handled", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocked = yield* forkNow(server.call({ _tag: "Block", until: gate, started }, { timeout: Duration.infinity }))
      yield* Deferred.await(started)
      const late = yield* forkNow(server.call({ _tag: "Add", n: 100 }, { timeout: "1 second" }))
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(late))
      expect(error).toBeInstanceOf(Server.CallTimeout)
      expect(error).toMatchObject({ timeoutMillis: 1000, taken: false })
      expect(error.message).toContain("never will")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(blocked)
      // The timed-out Add was skipped: its caller had given up.
      expect(yield* server.call({ _tag: "Get" })).toBe(0)
    }))

  it.scoped("servers sharing callTimeouts: each call times out at its own deadline, named by its own server", () =>
    Effect.gen(function*() {
      const callTimeouts = yield* Server.makeCallTimeouts
      const gate = yield* Deferred.make<void>()
      const blocking = (name: string) =>
        Server.start<number, string, number>({
          init: Effect.succeed(0),
          handleCall: (_, state) => Effect.as(Deferred.await(gate), [state, state] as const)
        }, { name, callTimeouts })
      const first = yield* blocking("first")
      const second = yield* blocking("second")
      // Added after the servers, so run before they stop: they can stop, no longer blocked.
      yield* Effect.addFinalizer(() => Deferred.succeed(gate, undefined))
      const early = yield* forkNow(first.call("wait", { timeout: "1 second" }))
      const late = yield* forkNow(second.call("wait", { timeout: "3 seconds" }))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Effect.flip(Fiber.join(early))).toMatchObject({ _tag: "CallTimeout", server: "first", timeoutMillis: 1000, taken: true })
      expect(Option.isNone(yield* Fiber.poll(late))).toBe(true)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Effect.flip(Fiber.join(late))).toMatchObject({ _tag: "CallTimeout", server: "second", timeoutMillis: 3000, taken: true })
    }))

  it.scoped("a call that times out inside a slow handler is taken: true", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const slow = yield* forkNow(server.call({ _tag: "Block", until: gate, started }, { timeout: "1 second" }))
      yield* Deferred.await(started)
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(slow))
      expect(error).toBeInstanceOf(Server.CallTimeout)
      expect(error).toMatchObject({ timeoutMillis: 1000, taken: true })
      expect(error.message).toContain("outcome is unknown")
      yield* Deferred.succeed(gate, undefined)
      expect(yield* server.call({ _tag: "Add", n: 1 })).toBe(1)
    }))

  it.scoped("skips a call whose caller was interrupted while it waited in the mailbox", () =>
    Effect.gen(function*() {
      const server = yield* counter()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      yield* forkNow(server.call({ _tag: "Block", until: gate, started }, { timeout: Duration.infinity }))
      yield* Deferred.await(started)
      const impatient = yield* forkNow(server.call({ _tag: "Add", n: 100 }, { timeout: Duration.infinity }))
      yield* Fiber.interrupt(impatient)
      yield* Deferred.succeed(gate, undefined)
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
      // The mailbox stays full until the server, done with the blocked call, takes the casts.
      const getOnceRoom: Effect.Effect<number, unknown> = server.call({ _tag: "Get" }).pipe(
        Effect.catchTag("Overloaded", () => Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => getOnceRoom)))
      )
      expect(yield* getOnceRoom).toBe(4)
    }))

  it.scoped("stop lets the call in hand finish and fails every queued call with taken: false; none hangs", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const server = yield* counter(log)
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocked = yield* forkNow(server.call({ _tag: "Block", until: gate, started }, { timeout: Duration.infinity }))
      yield* Deferred.await(started)
      const queued = yield* Effect.forEach([1, 2, 3], (n) => forkNow(server.call({ _tag: "Add", n }, { timeout: Duration.infinity })))
      // The stop is under way (the loop has been interrupted) before the call in hand may finish.
      const stopping = yield* forkNow(server.stop)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stopping)
      expect(yield* Fiber.join(blocked)).toBe(0)
      for (const fiber of queued) {
        expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "ServerStopped", reason: "stopped", taken: false })
      }
      const refused = yield* Effect.flip(server.call({ _tag: "Get" }))
      expect(refused).toMatchObject({ _tag: "ServerStopped", taken: false })
      expect(refused.message).toContain("retry once it has been restarted")
      expect(yield* Ref.get(log)).toEqual(["Normal:0"])
      expect(server.isRunning()).toBe(false)
    }))

  it.scoped("crashes on a defect: callers get ServerStopped, terminate sees the crash, await fails", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const server = yield* counter(log)
      yield* server.cast(7)
      const crashed = yield* Effect.flip(server.call({ _tag: "Die" }))
      expect(crashed).toMatchObject({ _tag: "ServerStopped", reason: "crashed: boom", taken: true })
      expect(crashed.message).toContain("outcome is unknown")
      const ended = yield* Effect.exit(server.await)
      expect(Exit.isFailure(ended)).toBe(true)
      expect(yield* Ref.get(log)).toEqual(["Crashed:7"])
      expect((yield* Effect.flip(server.cast(1)))._tag).toBe("ServerStopped")
    }))

  it.scoped("what the handler logs is annotated with the server's name", () => {
    const annotations: Array<unknown> = []
    const logger = Logger.make(({ annotations: logged }) => {
      annotations.push(Option.getOrUndefined(HashMap.get(logged, "server")))
    })
    return Effect.gen(function*() {
      const server = yield* Server.start<number, string, number>({
        init: Effect.succeed(0),
        handleCall: (_, state) => Effect.as(Effect.log("handled"), [state, state] as const)
      }, { name: "annotated" })
      yield* server.call("log")
      expect(annotations).toEqual(["annotated"])
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })

  it.scoped("unsafeOnEnd tells of the end as await ends: once it comes, or at once after it", () =>
    Effect.gen(function*() {
      const stopped = yield* counter()
      const seenStop: Array<Exit.Exit<void, unknown>> = []
      stopped.unsafeOnEnd((end) => seenStop.push(end))
      expect(seenStop).toEqual([])
      yield* stopped.stop
      expect(seenStop).toEqual([Exit.void])

      const crashed = yield* counter()
      const seenCrash: Array<Exit.Exit<void, unknown>> = []
      crashed.unsafeOnEnd((end) => seenCrash.push(end))
      yield* Effect.flip(crashed.call({ _tag: "Die" }))
      yield* Effect.exit(crashed.await)
      expect(seenCrash).toHaveLength(1)
      expect(Exit.isFailure(seenCrash[0]!) && Cause.isDie(seenCrash[0].cause)).toBe(true)
      crashed.unsafeOnEnd((end) => seenCrash.push(end)) // after the end: at once
      expect(seenCrash).toHaveLength(2)
      expect(seenCrash[1]).toBe(seenCrash[0])
    }))

  it.scoped("callers that call again after a batch join one batch, not a batch of one and one of the rest", () =>
    Effect.gen(function*() {
      const sizes: Array<number> = []
      // Each batch waits for an I/O turn, as a store's does for its log.
      const server = yield* Server.start<number, number, number>({
        init: Effect.succeed(0),
        handleCalls: (requests, state) =>
          Effect.async<void>((resume) => void setImmediate(() => resume(Effect.void))).pipe(
            Effect.map(() => {
              sizes.push(requests.length)
              return [requests.map(() => Exit.succeed(state)), state] as const
            })
          )
      }, { name: "rounds" })
      const callers = 50
      const calls = 20
      yield* Effect.forEach(
        Array.from({ length: callers }),
        () => Effect.repeatN(server.call(1), calls - 1),
        { concurrency: "unbounded", discard: true }
      )
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(callers * calls)
      // One batch per round of calls, and a first that may catch only the first caller.
      expect(sizes.length).toBeLessThanOrEqual(calls + 1)
    }))

  it.scoped("takes every waiting call as one batch with handleCalls", () =>
    Effect.gen(function*() {
      const batches = yield* Ref.make<ReadonlyArray<ReadonlyArray<number>>>([])
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      // Request 0 holds the server until the gate opens, so that the others wait in the mailbox.
      const server = yield* Server.start<number, number, number>({
        init: Effect.succeed(0),
        handleCalls: (requests, state) =>
          Effect.gen(function*() {
            yield* Ref.update(batches, (all) => [...all, requests])
            if (requests[0] === 0) yield* Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(gate)))
            let next = state
            const exits = requests.map((n) => Exit.succeed((next += n)))
            return [exits, next] as const
          })
      }, { name: "batcher" })
      const first = yield* forkNow(server.call(0))
      yield* Deferred.await(started)
      const waiting = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i + 1), (n) => forkNow(server.call(n)))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(first)).toBe(0)
      const replies = yield* Effect.forEach(waiting, Fiber.join)
      // In order, each seeing the sum of those before it.
      expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => ((i + 1) * (i + 2)) / 2))
      expect((yield* Ref.get(batches)).map((requests) => requests.length)).toEqual([1, 50])
    }))

  it.scoped("a crash mid-batch fails the batch's calls with taken: true and the queued ones with taken: false", () =>
    Effect.gen(function*() {
      type Step = { readonly hold?: { readonly started: Deferred.Deferred<void>; readonly gate: Deferred.Deferred<void> }; readonly die?: true }
      const server = yield* Server.start<null, Step, null>({
        init: Effect.succeed(null),
        handleCalls: (steps, state) =>
          Effect.gen(function*() {
            for (const step of steps) {
              if (step.hold) yield* Deferred.succeed(step.hold.started, undefined).pipe(Effect.zipRight(Deferred.await(step.hold.gate)))
              if (step.die) return yield* Effect.die(new Error("mid-batch"))
            }
            return [steps.map(() => Exit.succeed(null)), state] as const
          })
      }, { name: "crasher" })
      const hold = () => Effect.all({ started: Deferred.make<void>(), gate: Deferred.make<void>() })
      const first = yield* hold()
      const second = yield* hold()
      yield* forkNow(server.call({ hold: first }, { timeout: Duration.infinity }))
      yield* Deferred.await(first.started)
      // These two wait in the mailbox, then make the next batch: one holds, the other dies.
      const batch = yield* Effect.forEach([{ hold: second }, { die: true as const }], (step) =>
        forkNow(server.call(step, { timeout: Duration.infinity })))
      yield* Deferred.succeed(first.gate, undefined)
      yield* Deferred.await(second.started)
      const queued = yield* Effect.forEach([{}, {}], (step) => forkNow(server.call(step, { timeout: Duration.infinity })))
      yield* Deferred.succeed(second.gate, undefined)
      for (const fiber of batch) {
        expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "ServerStopped", reason: "crashed: mid-batch", taken: true })
      }
      for (const fiber of queued) {
        expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "ServerStopped", taken: false })
      }
      expect(Exit.isFailure(yield* Effect.exit(server.await))).toBe(true)
    }))

  it.effect("fails start with init's error, typed, and runs no server", () =>
    Effect.gen(function*() {
      const error: Refused = yield* Server.start<number, Request, number, never, never, never, Refused>({
        init: Effect.fail(new Refused()),
        handleCall: (_, state) => Effect.succeed([state, state] as const)
      }, { name: "refuser" }).pipe(Effect.scoped, Effect.flip)
      expect(error).toBeInstanceOf(Refused)
    }))

  it.effect("stops with its scope", () =>
    Effect.gen(function*() {
      const server = yield* Effect.scoped(counter())
      expect(server.isRunning()).toBe(false)
      expect((yield* Effect.flip(server.call({ _tag: "Get" })))._tag).toBe("ServerStopped")
    }))

  // Real timers: they can only fire if the event loop gets a turn while the calls go on.
  const timerFiresDuring = (server: Server.Server<Request, number, Refused, number>, maxCalls: number) =>
    Effect.gen(function*() {
      let calls = 0
      let firedAt: number | undefined
      setTimeout(() => (firedAt = calls), 1)
      while (firedAt === undefined && calls < maxCalls) {
        yield* server.call({ _tag: "Add", n: 1 })
        calls++
      }
      return firedAt !== undefined
    })

  it.scopedLive("a caller in a tight loop of calls does not starve the event loop: timers still fire", () =>
    Effect.gen(function*() {
      expect(yield* timerFiresDuring(yield* counter(), 200_000)).toBe(true)
    }))

  it.scopedLive("eventLoopTurn: Duration.infinity turns the turns off: the same loop starves timers", () =>
    Effect.gen(function*() {
      const server = yield* Server.start<number, Request, number, Refused, number>({
        init: Effect.succeed(0),
        handleCall: (_, state) => Effect.succeed([state + 1, state + 1] as const)
      }, { name: "greedy", eventLoopTurn: Duration.infinity })
      expect(yield* timerFiresDuring(server, 20_000)).toBe(false)
    }))

  it.scopedLive("a call told taken: false was never handled, wherever its timeout falls (thousands of racing timeouts)", () =>
    Effect.gen(function*() {
      const handled = new Set<number>()
      const server = yield* Server.start<number, number, number>({
        init: Effect.succeed(0),
        handleCalls: (requests, state) =>
          Effect.sync(() => {
            for (const request of requests) handled.add(request)
            return [requests.map(Exit.succeed), state] as const
          }).pipe(Effect.zipLeft(Effect.sleep(Math.floor(Math.random() * 30))))
        // A server that yields every few steps, as a busy one does now and then: a timeout can then
        // fire between the check that a call is live and the handler taking it.
      }, { name: "racing", capacity: 100_000, maxBatch: 100_000 }).pipe(Effect.locally(FiberRef.currentMaxOpsBeforeYield, 16))
      let next = 0
      const toldNotTaken: Array<number> = []
      const toldTaken: Array<number> = []
      const caller = Effect.gen(function*() {
        for (let i = 0; i < 10; i++) {
          const request = next++
          const exit = yield* Effect.exit(server.call(request, { timeout: 20 + Math.floor(Math.random() * 200) }))
          if (Exit.isSuccess(exit)) continue
          const error = Option.getOrThrow(Cause.failureOption(exit.cause))
          if (error._tag === "CallTimeout") (error.taken ? toldTaken : toldNotTaken).push(request)
        }
      })
      yield* Effect.all(Array.from({ length: 3000 }, () => caller), { concurrency: "unbounded", discard: true })
      expect(toldNotTaken.length).toBeGreaterThan(0)
      expect(toldTaken.length).toBeGreaterThan(0)
      expect(toldNotTaken.filter((request) => handled.has(request))).toEqual([])
      expect(toldTaken.filter((request) => !handled.has(request))).toEqual([])
    }))
})
