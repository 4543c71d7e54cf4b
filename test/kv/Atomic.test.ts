/**
 * Atomic writes: checks and operations of one store applied as one change at one version, all or
 * nothing, naming every failed check; on memory storage and on file storage.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { changesOf, recording } from "./fixtures/Recording.js"

const storages: ReadonlyArray<readonly [string, Effect.Effect<Layer.Layer<Storage.Storage, unknown>, never, import("effect/Scope").Scope>]> = [
  ["memory", Effect.succeed(Storage.layerMemory)],
  ["file", Effect.map(tempDir, (dataDir) => Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer)))]
]

for (const [name, makeStorage] of storages) describe(`atomic writes on ${name} storage`, () => {
  /** `KV` on a fresh storage, recorded, in the current scope. */
  const setup = (options: KVOptions = {}) =>
    Effect.gen(function*() {
      const { layer, recorded } = recording(yield* makeStorage)
      const kv = Context.get(yield* Layer.build(KV.layerFrom(layer, options)), KV)
      return { kv, recorded }
    })

  it.scoped("puts, deletes and increments at one new version, as one Atomic change", () =>
    Effect.gen(function*() {
      const { kv, recorded } = yield* setup()
      const a = yield* kv.put("s", "a", "old")
      yield* kv.put("s", "gone", true)
      const version = yield* kv.atomic("s", {
        checks: [{ key: "a", version: a }, { key: "b", version: null }],
        ops: [
          { op: "put", key: "a", value: { name: "Ada" } },
          { op: "put", key: "b", value: [1, 2], ttl: "1 minute" },
          { op: "delete", key: "gone" },
          { op: "delete", key: "never-there" },
          { op: "increment", key: "n" },
          { op: "increment", key: "m", by: -2.5 }
        ]
      })
      const now = yield* Clock.currentTimeMillis
      expect(version).toBeGreaterThan(a)
      expect(yield* kv.getEntry("s", "a")).toEqual(Option.some({ value: { name: "Ada" }, version, expiresAt: undefined }))
      expect(yield* kv.getEntry("s", "b")).toEqual(Option.some({ value: [1, 2], version, expiresAt: now + 60_000 }))
      expect(yield* kv.get("s", "gone")).toEqual(Option.none())
      expect(yield* kv.getEntry("s", "n")).toEqual(Option.some({ value: 1, version, expiresAt: undefined }))
      expect(yield* kv.get("s", "m")).toEqual(Option.some(-2.5))
      // One record: a delete of an absent key changes nothing and is left out.
      expect(recorded.batches.at(-1)?.changes).toMatchObject([{
        _tag: "Atomic",
        version,
        changes: [
          { _tag: "Put", key: "a", version },
          { _tag: "Put", key: "b", version },
          { _tag: "Delete", key: "gone", version },
          { _tag: "Put", key: "n", json: "1", version },
          { _tag: "Put", key: "m", json: "-2.5", version }
        ]
      }])
    }))

  it.scoped("operations apply in the order given", () =>
    Effect.gen(function*() {
      const { kv } = yield* setup()
      yield* kv.atomic("s", {
        ops: [
          { op: "put", key: "k", value: 10 },
          { op: "increment", key: "k", by: 5 },
          { op: "delete", key: "k" },
          { op: "increment", key: "k", by: 3 },
          { op: "put", key: "j", value: "first" },
          { op: "put", key: "j", value: "last" }
        ]
      })
      expect(yield* kv.get("s", "k")).toEqual(Option.some(3))
      expect(yield* kv.get("s", "j")).toEqual(Option.some("last"))
    }))

  it.scoped("failed checks fail the whole write and are all named, with expected and actual versions", () =>
    Effect.gen(function*() {
      const { kv, recorded } = yield* setup()
      const a = yield* kv.put("s", "a", 1)
      const b = yield* kv.put("s", "b", 2)
      const appended = recorded.batches.length
      const failure = yield* Effect.flip(kv.atomic("s", {
        checks: [
          { key: "a", version: a }, // holds
          { key: "b", version: b + 100 }, // another version
          { key: "a", version: null }, // present, expected absent
          { key: "c", version: 7 } // absent, expected present
        ],
        ops: [{ op: "put", key: "a", value: "x" }, { op: "delete", key: "b" }, { op: "increment", key: "c" }]
      }))
      expect(failure).toMatchObject({
        _tag: "AtomicCheckFailed",
        store: "s",
        failed: [
          { key: "b", expected: b + 100, actual: b },
          { key: "a", expected: null, actual: a },
          { key: "c", expected: 7, actual: null }
        ]
      })
      expect(failure.message).toBe(
        `the atomic write to store "s" was not applied: key "b" is at version ${b}, not at version ${b + 100}; ` +
          `key "a" is at version ${a}, not absent; key "c" is absent, not at version 7; read the keys again and retry`
      )
      expect(recorded.batches.length).toBe(appended)
      expect([yield* kv.get("s", "a"), yield* kv.get("s", "b"), yield* kv.get("s", "c")])
        .toEqual([Option.some(1), Option.some(2), Option.none()])
    }))

  it.scoped("an increment of a value that is not a number, or past a finite one, fails the whole write", () =>
    Effect.gen(function*() {
      const { kv } = yield* setup()
      yield* kv.put("s", "text", "7")
      yield* kv.put("s", "big", 1.7e308)
      const text = yield* Effect.flip(kv.atomic("s", {
        ops: [{ op: "put", key: "other", value: 1 }, { op: "increment", key: "text" }]
      }))
      expect(text).toMatchObject({ _tag: "NotANumber", store: "s", key: "text" })
      expect(text.message).toContain("its value is a string, not a number")
      const overflow = yield* Effect.flip(kv.atomic("s", { ops: [{ op: "increment", key: "big", by: 1e308 }] }))
      expect(overflow).toMatchObject({ _tag: "NotANumber", key: "big" })
      expect(overflow.message).toContain("not a finite number")
      expect(yield* kv.get("s", "other")).toEqual(Option.none())
      const by = yield* Effect.flip(kv.atomic("s", { ops: [{ op: "increment", key: "n", by: Number.NaN }] }))
      expect(by._tag).toBe("InvalidValue")
    }))

  it.scoped("limits: operations, bytes, keys, values and ttls are checked before the store sees the write", () =>
    Effect.gen(function*() {
      const { kv, recorded } = yield* setup({ limits: { maxAtomicOperations: 3, maxAtomicBytes: 100 } })
      const puts = (count: number) => Array.from({ length: count }, (_, i) => ({ op: "put" as const, key: `k${i}`, value: i }))
      const many = yield* Effect.flip(kv.atomic("s", { ops: puts(4) }))
      expect(many).toMatchObject({ _tag: "TooManyOperations", what: "operations", count: 4, max: 3 })
      expect(many.message).toContain("4 operations, over the limit of 3")
      const checks = Array.from({ length: 4 }, (_, i) => ({ key: `c${i}`, version: null }))
      expect(yield* Effect.flip(kv.atomic("s", { checks, ops: puts(1) })))
        .toMatchObject({ _tag: "TooManyOperations", what: "checks", count: 4, max: 3 })
      // The limit is on operations: three of them may carry their checks.
      expect(yield* kv.atomic("s", { checks: checks.slice(0, 3), ops: puts(3) })).toBe(1)
      const large = yield* Effect.flip(kv.atomic("s", { ops: [{ op: "put", key: "k", value: "é".repeat(60) }] }))
      expect(large).toMatchObject({ _tag: "AtomicTooLarge", maxBytes: 100 })
      expect((yield* Effect.flip(kv.atomic("s", { ops: [{ op: "delete", key: "" }] })))._tag).toBe("InvalidKey")
      expect((yield* Effect.flip(kv.atomic("s", { checks: [{ key: "", version: 1 }], ops: [] })))._tag).toBe("InvalidKey")
      expect((yield* Effect.flip(kv.atomic("s", { ops: [{ op: "put", key: "k", value: Number.NaN }] })))._tag)
        .toBe("InvalidValue")
      expect((yield* Effect.flip(kv.atomic("s", { ops: [{ op: "put", key: "k", value: 1, ttl: "0 seconds" }] })))._tag)
        .toBe("InvalidTtl")
      expect((yield* Effect.flip(kv.atomic("bad/name", { ops: [] })))._tag).toBe("InvalidName")
      expect(recorded.batches.length).toBe(1)
    }))

  it.scoped("a write that changes nothing appends nothing and answers the store's version", () =>
    Effect.gen(function*() {
      const { kv, recorded } = yield* setup()
      const version = yield* kv.put("s", "a", 1)
      const appended = recorded.batches.length
      expect(yield* kv.atomic("s", { checks: [{ key: "a", version }], ops: [] })).toBe(version)
      expect(yield* kv.atomic("s", { ops: [{ op: "delete", key: "absent" }] })).toBe(version)
      expect(recorded.batches.length).toBe(appended)
    }))

  it.scoped("checks see the writes before them: of two writes that create the same key, one wins", () =>
    Effect.gen(function*() {
      const { kv } = yield* setup()
      const create = (value: string) =>
        Effect.either(kv.atomic("s", { checks: [{ key: "lock", version: null }], ops: [{ op: "put", key: "lock", value }] }))
      const results = yield* Effect.all([create("first"), create("second"), create("third")], { concurrency: "unbounded" })
      expect(results.filter((result) => result._tag === "Right")).toHaveLength(1)
      expect(results.filter((result) => result._tag === "Left" && result.left._tag === "AtomicCheckFailed")).toHaveLength(2)
    }))

  it.scoped("increments from 100 concurrent fibers sum exactly", () =>
    Effect.gen(function*() {
      const { kv } = yield* setup()
      yield* Effect.forEach(
        Array.from({ length: 100 }, (_, fiber) => fiber),
        (fiber) =>
          Effect.repeatN(
            kv.atomic("s", { ops: [{ op: "increment", key: "total", by: 2 }, { op: "increment", key: `fiber-${fiber}` }] }),
            19
          ),
        { concurrency: "unbounded", discard: true }
      )
      expect(yield* kv.get("s", "total")).toEqual(Option.some(100 * 20 * 2))
      expect(yield* kv.get("s", "fiber-42")).toEqual(Option.some(20))
    }))
})

describe("atomic writes on disk", () => {
  it.scoped("are there after a restart, each at its one version", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const storage = Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer))
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const kv = Context.get(yield* Layer.build(KV.layerFrom(storage)), KV)
        return yield* kv.atomic("s", { ops: [{ op: "put", key: "a", value: 1 }, { op: "increment", key: "n", by: 41 }] })
      }))
      const kv = Context.get(yield* Layer.build(KV.layerFrom(storage)), KV)
      expect(yield* kv.getEntry("s", "a")).toEqual(Option.some({ value: 1, version: first, expiresAt: undefined }))
      expect(yield* kv.getEntry("s", "n")).toEqual(Option.some({ value: 41, version: first, expiresAt: undefined }))
      const second = yield* kv.atomic("s", { checks: [{ key: "n", version: first }], ops: [{ op: "increment", key: "n" }] })
      expect(second).toBe(first + 1)
    }))

  it.scoped("a recorded atomic write reads back from the log as one Atomic change", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const { layer, recorded } = recording(Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer)))
      yield* Effect.scoped(Effect.gen(function*() {
        const kv = Context.get(yield* Layer.build(KV.layerFrom(layer)), KV)
        yield* kv.atomic("s", {
          ops: [{ op: "put", key: "a", value: "x", ttl: "1 hour" }, { op: "delete", key: "a" }, { op: "put", key: "b", value: 2 }]
        })
      }))
      const reopened = yield* Effect.flatMap(Storage.Storage, (storage) => storage.open("s", { history: 10 })).pipe(
        Effect.provide(Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer)))
      )
      expect(reopened.recent).toEqual(changesOf(recorded, "s"))
      expect(reopened.recent).toMatchObject([{ _tag: "Atomic", changes: [{ _tag: "Put" }, { _tag: "Delete" }, { _tag: "Put" }] }])
    }))
})
