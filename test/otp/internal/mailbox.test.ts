import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Queue } from "effect"
import * as Mailbox from "../../../src/otp/internal/mailbox.js"
import { forkNow } from "../forkNow.js"

describe("Mailbox", () => {
  it.effect("keeps messages in order, refuses one past its capacity, and takes in batches", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.dropping<number>(3)
      expect([1, 2, 3, 4].map((n) => mailbox.unsafeOffer(n))).toEqual([true, true, true, false])
      expect(yield* Queue.size(mailbox)).toBe(3)
      expect(Chunk.toReadonlyArray(yield* Queue.takeUpTo(mailbox, 2))).toEqual([1, 2])
      expect(mailbox.unsafeOffer(5)).toBe(true)
      expect(yield* Queue.poll(mailbox)).toEqual(Option.some(3))
      expect(Chunk.toReadonlyArray(yield* Queue.takeBetween(mailbox, 1, 10))).toEqual([5])
      expect(yield* Queue.poll(mailbox)).toEqual(Option.none())
      expect(yield* Queue.offerAll(mailbox, [6, 7, 8, 9])).toBe(false)
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(mailbox))).toEqual([6, 7, 8])
    }))

  it.scoped("a take waits for the next message, and a long run of partial takes keeps the order", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.dropping<number>(10_000)
      const waiting = yield* forkNow(Queue.takeBetween(mailbox, 1, 5))
      mailbox.unsafeOffer(0)
      expect(Chunk.toReadonlyArray(yield* Fiber.join(waiting))).toEqual([0])
      for (let n = 1; n <= 5000; n++) mailbox.unsafeOffer(n)
      const taken: Array<number> = []
      for (let n = 5001; taken.length < 6000; n++) {
        taken.push(...Chunk.toReadonlyArray(yield* Queue.takeUpTo(mailbox, 3)))
        if (n <= 6000) mailbox.unsafeOffer(n)
      }
      expect(taken).toEqual(Array.from({ length: 6000 }, (_, i) => i + 1))
      expect(yield* Queue.size(mailbox)).toBe(0)
    }))
})
