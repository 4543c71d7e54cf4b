/**
 * Every operation of `KV` is answered within its call timeout, whatever it waits for (a store
 * slow to start or to close, its mailbox, its batch), and a write that gets no answer says
 * whether a retry is safe: `CallTimeout` with `taken: false` applied nothing, `OutcomeUnknown`
 * may have. The clock is the test's: the deadlines pass when the test moves it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { KV } from "../../src/kv/KV.js"
import { forkNow } from "../otp/forkNow.js"
import { type Control, kvWith, makeControl } from "./crashable.js"

/** The fiber's failure, moving the test clock on until it has one. */
const failureOf = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    while (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust("100 millis")
    return yield* Effect.flip(Fiber.join(fiber))
  })

/** Runs `write` in a fiber of its own, its batch held in the log's append until `gate` opens. */
const holdBatch = <A, E>(control: Control, write: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const entered = yield* Deferred.make<void>()
    control.gate = gate
    control.entered = entered
    const held = yield* forkNow(write)
    yield* Deferred.await(entered)
    return { gate, held }
  })

describe("deadlines", () => {
  it.scoped("a write its store took and did not answer in time is OutcomeUnknown; those still queued are CallTimeout, never applied", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("s", "seed", 0)
      const { gate, held: taken } = yield* holdBatch(control, kv.put("s", "taken", 1))
      const queuedPut = yield* forkNow(kv.put("s", "queued", 2))
      const queuedDelete = yield* forkNow(kv.delete("s", "seed"))
      const queuedClear = yield* forkNow(kv.clear("s"))

      const unknown = yield* failureOf(taken)
      expect(unknown).toMatchObject({ _tag: "OutcomeUnknown", store: "s" })
      expect(unknown.message).toContain("may or may not have been applied (no answer within 1000 ms")
      expect(unknown.message).toContain("read what it wrote before retrying")
      const queued: ReadonlyArray<Fiber.Fiber<unknown, { readonly _tag: string }>> = [queuedPut, queuedDelete, queuedClear]
      for (const fiber of queued) {
        expect(yield* failureOf(fiber)).toMatchObject({ _tag: "CallTimeout", server: "store:s", taken: false })
      }

      control.gate = undefined
      yield* Deferred.succeed(gate, undefined)
      yield* kv.put("s", "after", 3) // behind the held batch: once it is answered, that batch is in
      expect(yield* kv.get("s", "taken")).toEqual(Option.some(1)) // this one was applied after all
      expect(yield* kv.get("s", "queued")).toEqual(Option.none())
      expect(yield* kv.get("s", "seed")).toEqual(Option.some(0))
    }).pipe(Effect.provide(kvWith(control, { callTimeout: "1 second" })))
  })

  it.scoped("a write whose batch is held while KV shuts down is still answered at its deadline", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const kv = yield* Layer.buildWithScope(kvWith(control, { callTimeout: "1 second" }), scope).pipe(
        Effect.map(Context.get(KV))
      )
      yield* kv.put("s", "seed", 0)
      const { gate, held } = yield* holdBatch(control, kv.put("s", "held", 1))
      const closing = yield* forkNow(Scope.close(scope, Exit.void)) // waits for the batch in hand
      expect(yield* failureOf(held)).toMatchObject({ _tag: "OutcomeUnknown", store: "s" })
      control.gate = undefined
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(closing)
    })
  })

  it.scoped("a store slow to open: reads and writes are answered CallTimeout at the deadline; it opens meanwhile", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      const opening = yield* Deferred.make<void>()
      control.opening = opening
      const read = yield* forkNow(kv.get("slow", "k"))
      const write = yield* forkNow(kv.put("slow", "k", 1))
      const keys = yield* forkNow(kv.keys("slow"))
      expect(yield* failureOf(read)).toMatchObject({ _tag: "CallTimeout", server: "store:slow", taken: false })
      expect(yield* failureOf(write)).toMatchObject({ _tag: "CallTimeout", server: "store:slow", taken: false })
      expect(yield* failureOf(keys)).toMatchObject({ _tag: "CallTimeout", taken: false })
      expect(control.opened).toBe(0)

      control.opening = undefined
      yield* Deferred.succeed(opening, undefined)
      expect(yield* kv.get("slow", "k")).toEqual(Option.none()) // the write that timed out was never sent
      expect(yield* kv.put("slow", "k", 2)).toBeGreaterThan(0)
      expect(control.opened).toBe(1) // the open the first callers started, not one per caller
    }).pipe(Effect.provide(kvWith(control, { callTimeout: "1 second" })))
  })

  it.scoped("a store slow to close: a write that meets it is answered within its deadline; then it reopens", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("s", "a", 1)
      const closing = yield* Deferred.make<void>()
      control.closing = closing
      yield* TestClock.adjust("3 minutes") // idle: the sweep starts closing it, and waits
      const write = yield* forkNow(kv.put("s", "b", 2))
      expect(yield* failureOf(write)).toMatchObject({ _tag: "CallTimeout", server: "store:s", taken: false })

      control.closing = undefined
      yield* Deferred.succeed(closing, undefined)
      expect(yield* kv.put("s", "b", 3)).toBeGreaterThan(0)
      expect(yield* kv.get("s", "a")).toEqual(Option.some(1))
      expect(control.opened).toBe(2)
    }).pipe(Effect.provide(kvWith(control, { callTimeout: "1 second", idleTimeout: "1 minute" })))
  })

  it.scoped("dropStore and restartStore past the deadline: OutcomeUnknown, and they go on to the end", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("dropped", "k", 1)
      const closing = yield* Deferred.make<void>()
      control.closing = closing
      const drop = yield* forkNow(kv.dropStore("dropped"))
      const dropped = yield* failureOf(drop)
      expect(dropped).toMatchObject({ _tag: "OutcomeUnknown", store: "dropped" })
      expect(dropped.message).toContain("still being stopped and dropped")
      control.closing = undefined
      yield* Deferred.succeed(closing, undefined)
      while ((yield* kv.stores).includes("dropped")) yield* TestClock.adjust("100 millis")
      expect(yield* kv.get("dropped", "k")).toEqual(Option.none())

      const openedBefore = control.opened
      const opening = yield* Deferred.make<void>()
      control.opening = opening
      const restart = yield* forkNow(kv.restartStore("restarted"))
      expect(yield* failureOf(restart)).toMatchObject({ _tag: "OutcomeUnknown", store: "restarted" })
      control.opening = undefined
      yield* Deferred.succeed(opening, undefined)
      expect(yield* kv.put("restarted", "k", 1)).toBeGreaterThan(0)
      expect(control.opened).toBe(openedBefore + 1) // the restart's open, once
    }).pipe(Effect.provide(kvWith(control, { callTimeout: "1 second" })))
  })
})
