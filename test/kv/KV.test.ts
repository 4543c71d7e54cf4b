/**
 * What a user of `KV` relies on, the same on every storage: these tests run against memory
 * storage and against file storage in a temporary folder.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import { onTempDir } from "../storage/fixtures/TempDir.js"

const implementations: ReadonlyArray<readonly [string, (options?: KVOptions) => Layer.Layer<KV, unknown>]> = [
  ["memory", (options) => KV.layerMemory(options)],
  ["file", (options) => onTempDir((dataDir) => KV.layer({ ...options, dataDir }))]
]

for (const [storage, makeLayer] of implementations) describe(`KV on ${storage} storage`, () => {
  layer(makeLayer())((it) => {
    it.effect("puts, gets, deletes, and reads its own writes", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        expect(yield* kv.get("basics", "a")).toEqual(Option.none())
        const v1 = yield* kv.put("basics", "a", { n: 1 })
        expect(yield* kv.get("basics", "a")).toEqual(Option.some({ n: 1 }))
        expect(yield* kv.getEntry("basics", "a")).toEqual(Option.some({ value: { n: 1 }, version: v1 }))
        expect(yield* kv.has("basics", "a")).toBe(true)
        expect(yield* kv.size("basics")).toBe(1)
        expect(yield* kv.delete("basics", "a")).toBe(true)
        expect(yield* kv.delete("basics", "a")).toBe(false)
        expect(yield* kv.has("basics", "a")).toBe(false)
      }))

    it.effect("keeps any JSON value: null, numbers, strings, arrays, nested objects", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const values = [null, 0, -1.5, "", "text ✓", true, [], [1, [2]], { a: { b: null } }]
        for (const [i, value] of values.entries()) yield* kv.put("json", `k${i}`, value)
        for (const [i, value] of values.entries()) expect(yield* kv.get("json", `k${i}`)).toEqual(Option.some(value))
      }))

    it.effect("versions grow with every write, across stores' keys and a delete and re-create", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const a1 = yield* kv.put("versions", "a", 1)
        const b1 = yield* kv.put("versions", "b", 1)
        const a2 = yield* kv.put("versions", "a", 2)
        expect(b1).toBeGreaterThan(a1)
        expect(a2).toBeGreaterThan(b1)
        yield* kv.delete("versions", "a")
        const a3 = yield* kv.put("versions", "a", 3)
        expect(a3).toBeGreaterThan(a2)
      }))

    it.effect("compare-and-set: expectedVersion and ifAbsent", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const v1 = yield* kv.put("cas", "k", "first", { ifAbsent: true })
        const taken = yield* Effect.flip(kv.put("cas", "k", "again", { ifAbsent: true }))
        expect(taken).toMatchObject({ _tag: "VersionMismatch", expected: null, actual: v1 })
        const v2 = yield* kv.put("cas", "k", "second", { expectedVersion: v1 })
        const stale = yield* Effect.flip(kv.put("cas", "k", "lost", { expectedVersion: v1 }))
        expect(stale).toMatchObject({ _tag: "VersionMismatch", expected: v1, actual: v2 })
        expect(stale.message).toContain("read it again")
        expect(yield* kv.get("cas", "k")).toEqual(Option.some("second"))

        const wrongDelete = yield* Effect.flip(kv.delete("cas", "k", { expectedVersion: v1 }))
        expect(wrongDelete._tag).toBe("VersionMismatch")
        expect(yield* kv.delete("cas", "k", { expectedVersion: v2 })).toBe(true)
        const gone = yield* Effect.flip(kv.put("cas", "k", "x", { expectedVersion: v2 }))
        expect(gone).toMatchObject({ _tag: "VersionMismatch", expected: v2, actual: null })
      }))

    it.effect("unlessVersion: a put refused while the key is at that version", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const v1 = yield* kv.put("unless", "k", "first")
        const refused = yield* Effect.flip(kv.put("unless", "k", "same again", { unlessVersion: v1 }))
        expect(refused).toMatchObject({ _tag: "VersionMismatch", actual: v1, unlessVersion: v1 })
        expect(refused.message).toContain(`still at version ${v1}`)
        const v2 = yield* kv.put("unless", "k", "second", { unlessVersion: v1 + 1000 })
        expect(yield* kv.put("unless", "absent", 1, { unlessVersion: v2 })).toBeGreaterThan(v2)
        expect(yield* kv.get("unless", "k")).toEqual(Option.some("second"))
      }))

    it.effect("concurrent compare-and-set on one key: exactly one of them wins", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const v = yield* kv.put("race", "k", 0)
        const exits = yield* Effect.all(
          Array.from({ length: 50 }, (_, i) => Effect.exit(kv.put("race", "k", i, { expectedVersion: v }))),
          { concurrency: "unbounded" }
        )
        expect(exits.filter(Exit.isSuccess)).toHaveLength(1)
      }))

    it.effect("1,000 concurrent writers to one store lose nothing", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const versions = yield* Effect.all(
          Array.from({ length: 1000 }, (_, i) => kv.put("crowd", `key-${i}`, { i })),
          { concurrency: "unbounded" }
        )
        expect(new Set(versions).size).toBe(1000)
        expect(yield* kv.size("crowd")).toBe(1000)
        for (let i = 0; i < 1000; i++) expect(yield* kv.get("crowd", `key-${i}`)).toEqual(Option.some({ i }))
      }))

    it.effect("pages through keys in order, with a prefix and a cursor", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const keys = Array.from({ length: 25 }, (_, i) => `user:${String(i).padStart(2, "0")}`)
        for (const key of [...keys].reverse()) yield* kv.put("pages", key, key)
        yield* kv.put("pages", "other", 1)
        const seen: Array<string> = []
        let after: string | undefined
        let pages = 0
        do {
          const page = yield* kv.keys("pages", { prefix: "user:", limit: 10, ...(after === undefined ? {} : { after }) })
          seen.push(...page.keys)
          after = Option.getOrUndefined(page.next)
          pages++
        } while (after !== undefined)
        expect(seen).toEqual(keys)
        expect(pages).toBe(3)
        expect((yield* kv.keys("pages")).keys).toEqual([...keys, "other"].sort())
        const exact = yield* kv.keys("pages", { prefix: "user:", limit: 25 })
        expect(exact.next).toEqual(Option.none())
      }))

    it.effect("rejects a page size out of range", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        for (const limit of [0, -1, 1001, 2.5]) {
          expect((yield* Effect.flip(kv.keys("pages", { limit })))._tag).toBe("InvalidQuery")
        }
      }))

    it.effect("compact keeps every value; compacting a store never written does nothing", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        for (let i = 0; i < 50; i++) yield* kv.put("to-compact", `k${i % 5}`, i)
        yield* kv.compact("to-compact")
        expect(yield* kv.get("to-compact", "k4")).toEqual(Option.some(49))
        expect(yield* kv.size("to-compact")).toBe(5)
        expect(Exit.isSuccess(yield* Effect.exit(kv.compact("never-written")))).toBe(true)
      }))

    it.effect("storeInfo gives the key count and the version of the last change, which a clear moves too", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        expect(yield* kv.storeInfo("described")).toEqual({ size: 0, version: 0 })
        yield* kv.put("described", "a", 1)
        const second = yield* kv.put("described", "b", 2)
        expect(yield* kv.storeInfo("described")).toEqual({ size: 2, version: second })
        yield* kv.put("described", "b", 3, { expectedVersion: 0 }).pipe(Effect.flip)
        expect(yield* kv.storeInfo("described")).toEqual({ size: 2, version: second })
        yield* kv.clear("described")
        expect(yield* kv.storeInfo("described")).toEqual({ size: 0, version: second + 1 })
      }))

    it.effect("clear removes every key; stores lists those that hold data; dropStore forgets one", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("to-clear", "a", 1)
        yield* kv.put("to-clear", "b", 2)
        yield* kv.put("to-drop", "a", 1)
        expect(yield* kv.stores).toEqual(expect.arrayContaining(["to-clear", "to-drop"]))
        expect(yield* kv.clear("to-clear")).toBe(2)
        expect(yield* kv.size("to-clear")).toBe(0)
        expect(yield* kv.stores).not.toContain("to-clear")
        yield* kv.dropStore("to-drop")
        expect(yield* kv.stores).not.toContain("to-drop")
        expect(yield* kv.get("to-drop", "a")).toEqual(Option.none())
      }))

    it.effect("dropStore under concurrent writes: every write and every drop succeeds (a store being opened is not dropped under it), and the store takes writes after", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("dropped-live", "seed", 0)
        const writers = Effect.all(
          Array.from({ length: 10 }, (_, w) =>
            Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => kv.put("dropped-live", `w${w}-${i}`, i), { discard: true })),
          { concurrency: "unbounded", discard: true }
        )
        const drops = Effect.forEach(Array.from({ length: 5 }, (_, i) => i), () => kv.dropStore("dropped-live"), { discard: true })
        const [written, dropped] = yield* Effect.all([Effect.exit(writers), Effect.exit(drops)], { concurrency: "unbounded" })
        // Before, a write's store opening while a drop removed its folder failed with StorageError.
        expect(written).toEqual(Exit.void)
        expect(dropped).toEqual(Exit.void)
        yield* kv.put("dropped-live", "after", 1)
        expect(Option.isSome(yield* kv.get("dropped-live", "after"))).toBe(true)
      }))

    it.effect("concurrent first use of a store starts exactly one store", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        yield* Effect.all(
          Array.from({ length: 100 }, (_, i) => kv.put("first-use", `k${i}`, i)),
          { concurrency: "unbounded" }
        )
        // Had two stores started, writes to the one that lost the name would be missing.
        expect(yield* kv.size("first-use")).toBe(100)
      }))
  })

  describe("rejects bad input with a typed error that says what is wrong", () => {
    layer(makeLayer({ limits: { maxValueBytes: 64 } }))((it) => {
      it.effect("store names", () =>
        Effect.gen(function*() {
          const kv = yield* KV
          for (const name of ["", ".", "..", "a/b", "../x", "a b", "é", "x".repeat(129), "nul\0"]) {
            const error = yield* Effect.flip(kv.put(name, "k", 1))
            expect(error._tag).toBe("InvalidName")
            expect(error.message).toContain("invalid store name")
          }
          expect(yield* kv.put("A-z_0.9", "k", 1)).toBeGreaterThan(0)
          expect(yield* kv.put("x".repeat(128), "k", 1)).toBeGreaterThan(0)
        }))

      it.effect("keys", () =>
        Effect.gen(function*() {
          const kv = yield* KV
          for (const key of ["", "x".repeat(1025), "é".repeat(513), "\ud800lone"]) {
            const error = yield* Effect.flip(kv.put("keys", key, 1))
            expect(error._tag).toBe("InvalidKey")
            expect((yield* Effect.flip(kv.get("keys", key)))._tag).toBe("InvalidKey")
          }
          expect(yield* kv.put("keys", "x".repeat(1024), 1)).toBeGreaterThan(0)
          expect(yield* kv.put("keys", "é".repeat(512), 1)).toBeGreaterThan(0)
          expect(yield* kv.put("keys", "a/../b\0c", 1)).toBeGreaterThan(0)
        }))

      it.effect("keys, on a store that runs (whose name is not checked again)", () =>
        Effect.gen(function*() {
          const kv = yield* KV
          expect(yield* kv.put("running", "k", 1)).toBeGreaterThan(0)
          for (const key of ["", "x".repeat(1025), "é".repeat(513), "\ud800lone"]) {
            expect((yield* Effect.flip(kv.put("running", key, 1)))._tag).toBe("InvalidKey")
            expect((yield* Effect.flip(kv.get("running", key)))._tag).toBe("InvalidKey")
            expect((yield* Effect.flip(kv.has("running", key)))._tag).toBe("InvalidKey")
            expect((yield* Effect.flip(kv.getEntry("running", key)))._tag).toBe("InvalidKey")
            expect((yield* Effect.flip(kv.delete("running", key)))._tag).toBe("InvalidKey")
          }
          expect(yield* kv.get("running", "k")).toEqual(Option.some(1))
        }))

      it.effect("values", () =>
        Effect.gen(function*() {
          const kv = yield* KV
          const cyclic: Record<string, unknown> = {}
          cyclic.self = cyclic
          for (const value of [undefined, () => 1, cyclic, 10n]) {
            expect((yield* Effect.flip(kv.put("values", "k", value)))._tag).toBe("InvalidValue")
          }
          const tooLarge = yield* Effect.flip(kv.put("values", "k", "x".repeat(100)))
          expect(tooLarge).toMatchObject({ _tag: "ValueTooLarge", bytes: 102, maxBytes: 64 })
          expect(tooLarge.message).toContain("over the limit of 64")
          expect(yield* kv.get("values", "k")).toEqual(Option.none())
        }))
    })
  })

  it.effect("an overloaded store answers Overloaded at once and keeps serving reads", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("busy", "seed", 0)
      const exits = yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => Effect.exit(kv.put("busy", `k${i}`, i))),
        { concurrency: "unbounded" }
      )
      const failures = exits.filter(Exit.isFailure)
      expect(failures.length).toBeGreaterThan(0)
      for (const failure of failures) expect(JSON.stringify(failure.cause)).toContain("Overloaded")
      const acknowledged = exits.filter(Exit.isSuccess).length
      expect(yield* kv.size("busy")).toBe(acknowledged + 1)
    }).pipe(Effect.provide(makeLayer({ mailboxCapacity: 5 }))))
})
