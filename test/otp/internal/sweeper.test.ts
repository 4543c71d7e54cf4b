import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as Sweeper from "../../../src/otp/internal/sweeper.js"

const makeSweeper = () => Effect.gen(function*() {
  const expired: Array<string> = []
  const sweeper = yield* Sweeper.make<{ readonly id: string; readonly deadline: number }>((item) => expired.push(item.id))
  const eventually = (check: () => boolean) =>
    Effect.gen(function*() {
      for (let i = 0; i < 10_000 && !check(); i++) yield* Effect.yieldNow()
      expect(check()).toBe(true)
    })
  return { expired, sweeper, eventually }
})

describe("Sweeper", () => {
  it.scoped("expires each watched item at its deadline, earliest first, and not those unwatched", () =>
    Effect.gen(function*() {
      const { eventually, expired, sweeper } = yield* makeSweeper()
      const items = [{ id: "late", deadline: 3000 }, { id: "early", deadline: 1000 }, { id: "answered", deadline: 2000 }]
      for (const item of items) yield* sweeper.watch(item) ?? Effect.void
      sweeper.unwatch(items[2]!)
      yield* TestClock.adjust("1 second")
      yield* eventually(() => expired.length === 1)
      expect(expired).toEqual(["early"])
      yield* TestClock.adjust("2 seconds")
      yield* eventually(() => expired.length === 2)
      expect(expired).toEqual(["early", "late"])
    }))

  it.scoped("only a deadline earlier than the one it sleeps towards asks for a wake", () =>
    Effect.gen(function*() {
      const { sweeper } = yield* makeSweeper()
      const first = sweeper.watch({ id: "a", deadline: 1000 })
      expect(first).toBeDefined()
      yield* first!
      expect(sweeper.watch({ id: "b", deadline: 2000 })).toBeUndefined()
      expect(sweeper.watch({ id: "c", deadline: 500 })).toBeDefined()
    }))

  it.scoped("a wake that was never run does not keep later deadlines from waking it", () =>
    Effect.gen(function*() {
      const { eventually, expired, sweeper } = yield* makeSweeper()
      // The caller that asked for this wake was interrupted before it ran it.
      expect(sweeper.watch({ id: "abandoned", deadline: 1000 })).toBeDefined()
      const wake = sweeper.watch({ id: "next", deadline: 2000 })
      expect(wake).toBeDefined()
      yield* wake!
      yield* TestClock.adjust("2 seconds")
      yield* eventually(() => expired.length === 2)
      expect([...expired].sort()).toEqual(["abandoned", "next"])
    }))
})
