/**
 * The `stores` child: stores started on demand, restarted from their logs by their own
 * supervisors, given up on past their intensity, closed when idle, and logged when they cannot open.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, HashMap, Layer, Logger, LogLevel, Metric, Option, TestClock } from "effect"
import * as fs from "node:fs"
import { KV } from "../../src/kv/KV.js"
import { storeRestarts } from "../../src/kv/Stores.js"
import { layout, storeFiles } from "../../src/storage/internal/dataDir.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "../storage/fixtures/FaultyFileSystem.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { crashable, kvWith, makeControl } from "./crashable.js"

const CRASHES = Number(process.env.CRASHES ?? 1000)

// "ok", the tag of the typed failure, or "defect".
const tagOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
  Exit.isSuccess(exit) ? "ok" : Option.match(Cause.failureOption(exit.cause), {
    onNone: () => "defect",
    onSome: (error) => error._tag
  })

const failureTag = <A>(effect: Effect.Effect<A, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

describe("the stores", () => {
  it.effect("restarts a crashed store from its log: the caller in flight is told its outcome is unknown, no other store notices", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      const before = (yield* Metric.value(storeRestarts)).count
      yield* kv.put("a", "k1", 1)
      yield* kv.put("b", "k1", 1)
      control.crashNext.add("a")
      expect(yield* failureTag(kv.put("a", "k2", 2))).toBe("OutcomeUnknown")
      // The next call waits for the restarted store, which recovered what was acknowledged.
      expect(yield* kv.get("a", "k1")).toEqual(Option.some(1))
      expect(yield* kv.get("a", "k2")).toEqual(Option.none())
      expect(yield* kv.put("a", "k3", 3)).toBeGreaterThan(0)
      expect(yield* kv.put("b", "k2", 2)).toBeGreaterThan(0)
      expect(control.opened).toBe(3) // a, b, and a again
      expect((yield* Metric.value(storeRestarts)).count).toBe(before + 1)
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.scoped("closes a crashed store's log without an fsync under sync none, on its way to the restart; a clean close still fsyncs", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull() // space is unlimited: only its count of fsyncs is used
      const control = makeControl()
      const storage = Storage.layerFile({ dataDir, sync: "none" }).pipe(Layer.provide(disk.layer))
      let beforeClose = 0
      yield* Effect.scoped(Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("s", "k", 1) // the store's folder is made, and fsynced
        yield* kv.put("s", "k", 2)
        const beforeCrash = disk.syncs()
        control.crashNext.add("s")
        expect(yield* failureTag(kv.put("s", "k", 3))).toBe("OutcomeUnknown")
        // Restarted from its log, every acknowledged write there, and nothing fsynced on the way.
        expect(yield* kv.get("s", "k")).toEqual(Option.some(2))
        expect(disk.syncs()).toBe(beforeCrash)
        yield* kv.put("s", "k", 4)
        beforeClose = disk.syncs()
      }).pipe(Effect.provide(KV.layerFrom(crashable(control)).pipe(Layer.provide(storage)))))
      expect(disk.syncs()).toBe(beforeClose + 1) // the store's log, written since it was opened
    }))

  it.effect("fails a store past its intensity with StoreFailed on every call, until restartStore", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("bad", "k", "kept")
      yield* kv.put("good", "k", 1)
      control.failing.add("bad")
      // Three crashes within 5 seconds are restarted; the fourth is one too many.
      for (let i = 0; i < 4; i++) expect(yield* failureTag(kv.put("bad", "x", i))).toBe("OutcomeUnknown")
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

  it.effect("a TestClock moved a year on: the idle stores close, the keys expire, and the clock does not step through every sweep", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("a", "k", 1, { ttl: "1 hour" })
      yield* kv.put("a", "kept", 1)
      // With no store running the sweep waits for one: a year is a few sweeps, not 105,120.
      yield* TestClock.adjust("365 days")
      expect(control.openNow).toBe(0)
      expect(yield* kv.get("a", "k")).toEqual(Option.none())
      expect(yield* kv.get("a", "kept")).toEqual(Option.some(1))
      yield* TestClock.adjust("365 days")
      expect(control.openNow).toBe(0)
      expect(control.opened).toBe(2)
    }).pipe(Effect.provide(kvWith(control)))
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
          // Only the calls in hand at a crash failed, with OutcomeUnknown; none timed out or hung.
          expect(Object.keys(counts).filter((tag) => tag !== "ok" && tag !== "OutcomeUnknown")).toEqual([])
        } else {
          expect(counts).toEqual({ ok: acknowledged.get(store)!.length })
        }
        const keys = acknowledged.get(store)!
        expect(keys.length).toBeGreaterThan(0)
        for (const key of keys) expect(yield* kv.get(store, key)).toEqual(Option.some(Number(key.slice(1))))
      }
      const crashes = crashable.reduce((sum, store) => sum + (outcomes.get(store)!.get("OutcomeUnknown") ?? 0), 0)
      expect(crashes).toBe(CRASHES)
    }).pipe(
      Effect.provide(kvWith(control, { storeRestarts: { maxRestarts: 100_000 } })),
      Logger.withMinimumLogLevel(LogLevel.Error) // a thousand restart warnings say nothing new
    )
  })

  it.scoped("logs a store that fails to open at error level, with the file and offset, and tries it again on next use", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const withKV = <A, E>(effect: Effect.Effect<A, E, KV>) => Effect.provide(effect, KV.layer({ dataDir }))
      yield* withKV(Effect.flatMap(KV, (kv) => Effect.forEach(["k0", "k1", "k2"], (key) => kv.put("s", key, key))))
      const { log } = storeFiles(layout(dataDir), "s")
      const bytes = fs.readFileSync(log)
      bytes[12] = bytes[12]! ^ 0xff // inside the first record, followed by good ones: damage, not a torn tail
      fs.writeFileSync(log, bytes)

      const logs: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
      const collect = Logger.make(({ annotations, logLevel, message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        logs.push({ level: logLevel.label, message: text, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
      const errors = yield* withKV(Effect.flatMap(KV, (kv) =>
        Effect.all([Effect.flip(kv.get("s", "k0")), Effect.flip(kv.put("s", "k3", 3)), kv.put("healthy", "k", 1)])
      )).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collect)))

      const [read, write] = errors
      expect(read).toMatchObject({ _tag: "CorruptLog", file: log })
      expect(write).toEqual(read)
      const opened = logs.filter((entry) => entry.level === "ERROR" && entry.message.includes("could not be opened"))
      expect(opened).toHaveLength(2) // one per use: each tried the log again
      for (const entry of opened) {
        expect(entry.message).toBe(`store "s" could not be opened: ${read.message}`)
        expect(entry.message).toContain(`${log} is corrupt at byte ${read._tag === "CorruptLog" ? read.offset : -1}`)
        expect(entry.annotations).toEqual({ store: "s", file: log, offset: read._tag === "CorruptLog" ? read.offset : -1 })
      }
    }))
})
