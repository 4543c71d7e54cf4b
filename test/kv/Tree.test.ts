import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Logger, LogLevel, Metric, Option, TestClock } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import { storeRestarts } from "../../src/kv/Registry.js"
import * as Storage from "../../src/storage/Storage.js"

// A test double of the storage dependency: memory storage whose appends can be made to die, so a
// store's handler really crashes; it also counts the logs open now and ever.
interface Control {
  /** Stores whose next append dies. */
  readonly crashNext: Set<string>
  /** Stores whose every append dies. */
  readonly failing: Set<string>
  /** When set, appends wait for it: a write held in flight. */
  gate: Deferred.Deferred<void> | undefined
  openNow: number
  opened: number
}

const makeControl = (): Control => ({ crashNext: new Set(), failing: new Set(), gate: undefined, openNow: 0, opened: 0 })

const CRASHES = Number(process.env.CRASHES ?? 1000)

const crashableStorage = (control: Control) =>
  Layer.effect(
    Storage.Storage,
    Effect.map(Storage.Storage, (inner) => ({
      ...inner,
      open: (store: string) =>
        Effect.gen(function*() {
          const log = yield* inner.open(store)
          control.openNow++
          control.opened++
          yield* Effect.addFinalizer(() => Effect.sync(() => control.openNow--))
          return {
            ...log,
            append: (changes, after) =>
              Effect.suspend(() => {
                if (control.crashNext.delete(store) || control.failing.has(store)) {
                  return Effect.dieMessage(`injected crash of ${store}`)
                }
                const gate = control.gate
                return gate === undefined ? log.append(changes, after) : Effect.zipRight(Deferred.await(gate), log.append(changes, after))
              })
          } satisfies Storage.StoreLog
        })
    }))
  ).pipe(Layer.provide(Storage.layerMemory))

const kvWith = (control: Control, options: KVOptions = {}) =>
  KV.layerWith(options).pipe(Layer.provide(crashableStorage(control)))

// "ok", the tag of the typed failure, or "defect".
const tagOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
  Exit.isSuccess(exit) ? "ok" : Option.match(Cause.failureOption(exit.cause), {
    onNone: () => "defect",
    onSome: (error) => error._tag
  })

const failureTag = <A>(effect: Effect.Effect<A, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

describe("the supervision tree", () => {
  it.effect("builds kv → storage, registry, stores (rest_for_one); a child added later goes last", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      const ids = (children: ReadonlyArray<{ readonly id: string }>) => children.map((child) => child.id)
      expect(ids(yield* kv.supervisor.whichChildren)).toEqual(["storage", "registry", "stores"])
      yield* kv.supervisor.startChild({ id: "http", start: Effect.succeed({ await: Effect.never }) })
      expect(ids(yield* kv.supervisor.whichChildren)).toEqual(["storage", "registry", "stores", "http"])
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.effect("restarts a crashed store from its log: the caller in flight gets ServerStopped, no other store notices", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      const before = (yield* Metric.value(storeRestarts)).count
      yield* kv.put("a", "k1", 1)
      yield* kv.put("b", "k1", 1)
      control.crashNext.add("a")
      expect(yield* failureTag(kv.put("a", "k2", 2))).toBe("ServerStopped")
      // The next call waits for the restarted store, which recovered what was acknowledged.
      expect(yield* kv.get("a", "k1")).toEqual(Option.some(1))
      expect(yield* kv.get("a", "k2")).toEqual(Option.none())
      expect(yield* kv.put("a", "k3", 3)).toBeGreaterThan(0)
      expect(yield* kv.put("b", "k2", 2)).toBeGreaterThan(0)
      expect(control.opened).toBe(3) // a, b, and a again
      expect((yield* Metric.value(storeRestarts)).count).toBe(before + 1)
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.effect("fails a store past its intensity with StoreFailed on every call, until restartStore", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("bad", "k", "kept")
      yield* kv.put("good", "k", 1)
      control.failing.add("bad")
      // Three crashes within 5 seconds are restarted; the fourth is one too many.
      for (let i = 0; i < 4; i++) expect(yield* failureTag(kv.put("bad", "x", i))).toBe("ServerStopped")
      const failed = yield* Effect.flip(kv.get("bad", "k"))
      expect(failed._tag).toBe("StoreFailed")
      expect(failed.message).toContain("crashed more than 3 times within 5000 ms")
      expect(failed.message).toContain("restartStore")
      expect(yield* failureTag(kv.put("bad", "k", 1))).toBe("StoreFailed")
      expect(yield* failureTag(kv.size("bad"))).toBe("StoreFailed")
      // The rest keeps serving.
      expect(yield* kv.put("good", "k2", 2)).toBeGreaterThan(0)
      expect(yield* kv.get("good", "k")).toEqual(Option.some(1))
      control.failing.delete("bad")
      yield* kv.restartStore("bad")
      expect(yield* kv.get("bad", "k")).toEqual(Option.some("kept"))
      yield* kv.put("bad", "k", "again")
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.effect("concurrent first use starts exactly one store", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* Effect.all(Array.from({ length: 100 }, (_, i) => kv.put("one", `k${i}`, i)), { concurrency: "unbounded" })
      expect(control.opened).toBe(1)
      expect(yield* kv.size("one")).toBe(100)
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.effect("closes a store left unused for the idle timeout, and reopens it on demand", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("a", "k", 1)
      yield* kv.put("b", "k", 1)
      yield* TestClock.adjust("1 minute")
      yield* kv.get("b", "k") // b is in use, a is not
      yield* TestClock.adjust("1 minute")
      expect(control.openNow).toBe(1)
      yield* TestClock.adjust("1 minute")
      expect(control.openNow).toBe(0)
      expect(yield* kv.get("a", "k")).toEqual(Option.some(1))
      expect(control.openNow).toBe(1)
      expect(yield* kv.put("a", "k2", 2)).toBeGreaterThan(0)
      expect(control.opened).toBe(3)
    }).pipe(Effect.provide(kvWith(control, { idleTimeout: "1 minute" })))
  })

  it.effect("does not close a store under a write in flight", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("a", "k", 1)
      const gate = yield* Deferred.make<void>()
      control.gate = gate
      const write = yield* Effect.fork(kv.put("a", "slow", 2, {}))
      yield* TestClock.adjust("5 minutes")
      expect(control.openNow).toBe(1)
      control.gate = undefined
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(write)).toBeGreaterThan(0)
      yield* TestClock.adjust("2 minutes")
      expect(control.openNow).toBe(0)
      expect(yield* kv.get("a", "slow")).toEqual(Option.some(2))
    }).pipe(Effect.provide(kvWith(control, { idleTimeout: "1 minute", callTimeout: "1 hour" })))
  })

  it.live("crash injection: 1,000 random crashes under write load lose no acknowledged write", () => {
    const control = makeControl()
    const stores = Array.from({ length: 10 }, (_, i) => `s${i}`)
    const crashable = stores.slice(0, 5)
    return Effect.gen(function*() {
      const kv = yield* KV
      let done = false
      const acknowledged = new Map<string, Array<string>>(stores.map((store) => [store, []]))
      const outcomes = new Map<string, Map<string, number>>(stores.map((store) => [store, new Map()]))
      const writer = (store: string) =>
        Effect.gen(function*() {
          for (let i = 0; !done; i++) {
            const key = `k${i}`
            const exit = yield* Effect.exit(kv.put(store, key, i))
            const tag = tagOf(exit)
            const counts = outcomes.get(store)!
            counts.set(tag, (counts.get(tag) ?? 0) + 1)
            if (Exit.isSuccess(exit)) acknowledged.get(store)!.push(key)
            // Memory storage never waits: give timers a turn, or fibers calling fibers starve them.
            yield* Effect.sleep(0)
          }
        })
      const writers = yield* Effect.forkAll(stores.map(writer))
      for (let crash = 0; crash < CRASHES; crash++) {
        const store = crashable[Math.floor(Math.random() * crashable.length)]!
        control.crashNext.add(store)
        while (control.crashNext.has(store)) yield* Effect.sleep("1 millis")
      }
      done = true
      yield* Fiber.join(writers)

      for (const store of stores) {
        const counts = Object.fromEntries(outcomes.get(store)!)
        if (crashable.includes(store)) {
          // Only the calls in hand at a crash failed, with ServerStopped; none timed out or hung.
          expect(Object.keys(counts).filter((tag) => tag !== "ok" && tag !== "ServerStopped")).toEqual([])
        } else {
          expect(counts).toEqual({ ok: acknowledged.get(store)!.length })
        }
        const keys = acknowledged.get(store)!
        expect(keys.length).toBeGreaterThan(0)
        for (const key of keys) expect(yield* kv.get(store, key)).toEqual(Option.some(Number(key.slice(1))))
      }
      const crashes = crashable.reduce((sum, store) => sum + (outcomes.get(store)!.get("ServerStopped") ?? 0), 0)
      expect(crashes).toBe(CRASHES)
    }).pipe(
      Effect.provide(kvWith(control, { storeRestarts: { maxRestarts: 100_000 } })),
      Logger.withMinimumLogLevel(LogLevel.Error) // a thousand restart warnings say nothing new
    )
  })
})
