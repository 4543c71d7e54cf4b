import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, FiberId, Option, Predicate } from "effect"
import * as Reply from "../../../src/otp/internal/reply.js"
import { forkNow } from "../forkNow.js"

describe("Reply", () => {
  it.scoped("is a Deferred that every Deferred function works on", () =>
    Effect.gen(function*() {
      const reply = Reply.make<number, string>(FiberId.none)
      expect(Predicate.hasProperty(reply, Deferred.DeferredTypeId)).toBe(true)
      expect(yield* Deferred.isDone(reply)).toBe(false)
      expect(yield* Deferred.poll(reply)).toEqual(Option.none())
      const waiter = yield* forkNow(Deferred.await(reply))
      const second = yield* forkNow(reply) // a Deferred is an Effect that awaits it
      Deferred.unsafeDone(reply, Exit.succeed(7))
      expect(yield* Fiber.join(waiter)).toBe(7)
      expect(yield* Fiber.join(second)).toBe(7)
      expect(yield* Deferred.isDone(reply)).toBe(true)
      // Completed once: a later completion changes nothing.
      expect(yield* Deferred.fail(reply, "late")).toBe(false)
      expect(yield* Deferred.await(reply)).toBe(7)
    }))

  it.scoped("fails its waiters with a failure, and forgets a waiter that is interrupted", () =>
    Effect.gen(function*() {
      const reply = Reply.make<number, string>(FiberId.none)
      const leaving = yield* forkNow(Deferred.await(reply))
      yield* Fiber.interrupt(leaving)
      const staying = yield* forkNow(Effect.either(Deferred.await(reply)))
      yield* Deferred.fail(reply, "no")
      expect(yield* Fiber.join(staying)).toEqual(Either.left("no"))
    }))

  it.scoped("replies are distinct: completing one leaves another pending", () =>
    Effect.gen(function*() {
      const one = Reply.make<number>(FiberId.none)
      const other = Reply.make<number>(FiberId.none)
      yield* Deferred.succeed(one, 1)
      expect(yield* Deferred.isDone(other)).toBe(false)
      expect(yield* Deferred.await(one)).toBe(1)
    }))

  it.scoped("awaitOr waits as Deferred.await does, and gives up only when its waiter is interrupted", () =>
    Effect.gen(function*() {
      const givenUp: Array<string> = []
      const done = Reply.make<number>(FiberId.none)
      yield* Deferred.succeed(done, 1)
      expect(yield* Reply.awaitOr(done, () => givenUp.push("done"))).toBe(1)

      const answered = Reply.make<number, string>(FiberId.none)
      const waiting = yield* forkNow(Effect.either(Reply.awaitOr(answered, () => givenUp.push("answered"))))
      yield* Deferred.fail(answered, "no")
      expect(yield* Fiber.join(waiting)).toEqual(Either.left("no"))

      const left = Reply.make<number>(FiberId.none)
      const leaving = yield* forkNow(Reply.awaitOr(left, () => givenUp.push("left")))
      const staying = yield* forkNow(Deferred.await(left))
      yield* Fiber.interrupt(leaving)
      expect(givenUp).toEqual(["left"])
      yield* Deferred.succeed(left, 3)
      expect(yield* Fiber.join(staying)).toBe(3)
    }))
})
