import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Option, TestClock } from "effect"
import * as DynamicSupervisor from "../../src/otp/DynamicSupervisor.js"
import * as Server from "../../src/otp/Server.js"
import * as Tracing from "../../src/otp/Tracing.js"
import * as MemoryTracer from "../fixtures/MemoryTracer.js"
import { forkNow } from "./forkNow.js"

type Request =
  | { readonly _tag: "Work"; readonly n: number }
  | { readonly _tag: "InSpan" }
  | { readonly _tag: "Block"; readonly until: Deferred.Deferred<void>; readonly started: Deferred.Deferred<void> }

// A server whose handler does its work in a span of its own, to see where that span lands.
const worker = Server.start<number, Request, number>({
  init: Effect.succeed(0),
  handleCalls: (requests, state) =>
    Effect.forEach(requests, (request) =>
      request._tag === "Block"
        ? Effect.zipRight(Deferred.succeed(request.started, undefined), Effect.as(Deferred.await(request.until), state))
        : request._tag === "InSpan"
        ? Effect.map(Effect.option(Effect.currentSpan), (span) => Option.isSome(span) ? 1 : 0)
        : Effect.succeed(request.n).pipe(Tracing.withSpan("work"))).pipe(
        Effect.map((replies) => [replies.map(Exit.succeed), state] as const)
      )
}, { name: "worker", spanName: "worker.batch" })

describe("Tracing", () => {
  it.effect("withSpan makes no span under Effect's own tracer, and one under a recording tracer", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      const inNative = yield* Effect.currentSpan.pipe(Tracing.withSpan("skipped"), Effect.option)
      expect(inNative).toEqual(Option.none())
      const inRecording = yield* Effect.currentSpan.pipe(Tracing.withSpan("made"), MemoryTracer.withTracer(memory))
      expect(inRecording.name).toBe("made")
      expect(memory.spans.map((span) => span.name)).toEqual(["made"])
    }))

  it.scoped("a server's batch runs under its caller's span, recorded by the caller's tracer", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      // Started without the tracer: the caller's tracer records the work done for it anyway.
      const server = yield* worker
      yield* server.call({ _tag: "Work", n: 1 }).pipe(Effect.withSpan("caller"), MemoryTracer.withTracer(memory))
      expect(MemoryTracer.path(MemoryTracer.find(memory, "work"))).toEqual(["work", "worker.batch", "caller"])
      const batch = MemoryTracer.find(memory, "worker.batch")
      expect(batch.attributes.get("otp.server")).toBe("worker")
      expect(batch.attributes.get("otp.batch.size")).toBe(1)
    }))

  it.scoped("a batch of traced calls runs under the first caller's span, linked to the others'", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      const server = yield* worker
      const until = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocker = yield* forkNow(server.call({ _tag: "Block", until, started }))
      yield* Deferred.await(started)
      const callers = yield* Effect.forEach([1, 2, 3], (n) =>
        forkNow(server.call({ _tag: "Work", n }).pipe(Effect.withSpan(`caller-${n}`), MemoryTracer.withTracer(memory))))
      yield* Deferred.succeed(until, undefined)
      expect(yield* Fiber.join(Fiber.all(callers))).toEqual([1, 2, 3])
      yield* Fiber.join(blocker)
      const batches = memory.spans.filter((span) => span.name === "worker.batch")
      expect(batches).toHaveLength(1)
      expect(MemoryTracer.path(batches[0]!)).toEqual(["worker.batch", "caller-1"])
      expect(batches[0]!.links.map((link) => link.span._tag === "Span" ? link.span.name : "")).toEqual(["caller-2", "caller-3"])
      expect(batches[0]!.attributes.get("otp.batch.size")).toBe(3)
    }))

  it.scoped("a call from a span of Effect's own tracer carries nothing: the batch runs in no span", () =>
    Effect.gen(function*() {
      const server = yield* worker
      expect(yield* server.call({ _tag: "InSpan" }).pipe(Effect.withSpan("native caller"))).toBe(0)
      const memory = MemoryTracer.make()
      expect(yield* server.call({ _tag: "InSpan" }).pipe(Effect.withSpan("caller"), MemoryTracer.withTracer(memory))).toBe(1)
    }))

  it.scoped("mailboxSize counts the messages waiting, pendingCalls the calls not answered (in hand, waiting or given up)", () =>
    Effect.gen(function*() {
      const server = yield* worker
      expect([server.mailboxSize(), server.pendingCalls()]).toEqual([0, 0])
      const until = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocked = yield* forkNow(server.call({ _tag: "Block", until, started }))
      yield* Deferred.await(started)
      expect([server.mailboxSize(), server.pendingCalls()]).toEqual([0, 1])
      const waiting = yield* Effect.forEach([1, 2, 3], (n) => forkNow(server.call({ _tag: "Work", n })))
      expect([server.mailboxSize(), server.pendingCalls()]).toEqual([3, 4])
      // A caller that gives up is answered at once: its call stays in the mailbox, no longer pending.
      yield* Fiber.interrupt(waiting[0]!)
      expect([server.mailboxSize(), server.pendingCalls()]).toEqual([3, 3])
      yield* Deferred.succeed(until, undefined)
      yield* Fiber.join(blocked)
      expect(yield* Fiber.join(Fiber.all(waiting.slice(1)))).toEqual([2, 3])
      expect([server.mailboxSize(), server.pendingCalls()]).toEqual([0, 0])
    }))

  it.scoped("a call that times out is no longer pending", () =>
    Effect.gen(function*() {
      const server = yield* worker
      const until = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      yield* forkNow(server.call({ _tag: "Block", until, started }, { timeout: "1 hour" }))
      yield* Deferred.await(started)
      const late = yield* forkNow(Effect.either(server.call({ _tag: "Work", n: 1 }, { timeout: "1 second" })))
      expect(server.pendingCalls()).toBe(2)
      yield* TestClock.adjust("2 seconds")
      const timedOut = yield* Fiber.join(late)
      expect(Either.isLeft(timedOut) && timedOut.left._tag).toBe("CallTimeout")
      expect(server.pendingCalls()).toBe(1)
      yield* Deferred.succeed(until, undefined)
    }))
})

describe("Tracing.withChildSpan", () => {
  it.effect("makes a span only inside another, under a recording tracer", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      yield* Effect.void.pipe(Tracing.withChildSpan("orphan"), MemoryTracer.withTracer(memory))
      yield* Effect.void.pipe(Tracing.withChildSpan("child"), Effect.withSpan("parent"), MemoryTracer.withTracer(memory))
      expect(memory.spans.map((span) => span.name)).toEqual(["parent", "child"])
    }))
})

describe("long-lived fibers leave their starter's span", () => {
  it.scoped("a server started inside a span handles untraced calls in no span", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      const server = yield* worker.pipe(Effect.withSpan("starter"), MemoryTracer.withTracer(memory))
      expect(yield* server.call({ _tag: "InSpan" }).pipe(MemoryTracer.withTracer(memory))).toBe(0)
    }))

  it.scoped("a child a dynamic supervisor starts inside a span starts, and runs, in no span", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      const supervisor = yield* DynamicSupervisor.start({ name: "children" })
      const forked = yield* Deferred.make<Option.Option<string>>()
      const child = yield* supervisor.startChild({
        id: "child",
        start: Effect.gen(function*() {
          const atStart = yield* Effect.option(Effect.currentSpan)
          yield* Effect.forkScoped(Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
            Deferred.succeed(forked, Option.map(span, (s) => s.name))))
          return { atStart: Option.map(atStart, (s) => s.name), await: Effect.never }
        })
      }).pipe(Effect.withSpan("starter"), MemoryTracer.withTracer(memory))
      expect(child.atStart).toEqual(Option.none())
      expect(yield* Deferred.await(forked)).toEqual(Option.none())
    }))
})
