/**
 * The platform's `KeyValueStore` on effect-kv: the interface's own behaviour, run against the
 * platform's `layerMemory` and against our layer on memory and file storage, then the same
 * operations compared with `layerMemory` one by one.
 */
import * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { KV } from "../../src/kv/KV.js"
import * as KVKeyValueStore from "../../src/kv/KVKeyValueStore.js"
import { onTempDir, tempDir } from "../storage/fixtures/TempDir.js"

const onKV = (kv: Layer.Layer<KV, unknown>) => KVKeyValueStore.layer("platform").pipe(Layer.provide(kv))

const implementations: ReadonlyArray<readonly [string, Layer.Layer<KeyValueStore.KeyValueStore, unknown>]> = [
  ["the platform's layerMemory", KeyValueStore.layerMemory],
  ["effect-kv on memory storage", onKV(KV.layerMemory())],
  ["effect-kv on file storage", onKV(onTempDir((dataDir) => KV.layer({ dataDir })))]
]

class User extends Schema.Class<User>("User")({ name: Schema.String, age: Schema.Number }) {}

for (const [name, implementation] of implementations) describe(`KeyValueStore: ${name}`, () => {
  layer(implementation)((it) => {
    const fresh = Effect.tap(KeyValueStore.KeyValueStore, (store) => store.clear)

    it.effect("set, get, size, has and isEmpty", () =>
      Effect.gen(function*() {
        const store = yield* fresh
        expect(yield* store.isEmpty).toBe(true)
        yield* store.set("/a/b", "bar")
        expect(yield* store.get("/a/b")).toEqual(Option.some("bar"))
        expect(yield* store.get("missing")).toEqual(Option.none())
        expect(yield* store.has("/a/b")).toBe(true)
        expect(yield* store.has("missing")).toBe(false)
        expect(yield* store.size).toBe(1)
        expect(yield* store.isEmpty).toBe(false)
      }))

    it.effect("remove and clear", () =>
      Effect.gen(function*() {
        const store = yield* fresh
        yield* store.set("a", "1")
        yield* store.set("b", "2")
        yield* store.remove("a")
        yield* store.remove("never there")
        expect(yield* store.get("a")).toEqual(Option.none())
        expect(yield* store.size).toBe(1)
        yield* store.clear
        expect(yield* store.get("b")).toEqual(Option.none())
        expect(yield* store.size).toBe(0)
      }))

    it.effect("modify and modifyUint8Array: the new value, or none for an absent key", () =>
      Effect.gen(function*() {
        const store = yield* fresh
        expect(yield* store.modify("absent", (v) => v + "!")).toEqual(Option.none())
        expect(yield* store.has("absent")).toBe(false)
        yield* store.set("k", "bar")
        expect(yield* store.modify("k", (v) => v + "bar")).toEqual(Option.some("barbar"))
        expect(yield* store.get("k")).toEqual(Option.some("barbar"))
        yield* store.set("bytes", new Uint8Array([1, 2]))
        const grown = yield* store.modifyUint8Array("bytes", (v) => new Uint8Array([...v, 3]))
        expect(grown).toEqual(Option.some(new Uint8Array([1, 2, 3])))
        expect(yield* store.getUint8Array("bytes")).toEqual(Option.some(new Uint8Array([1, 2, 3])))
        expect(yield* store.size).toBe(2)
      }))

    it.effect("bytes round-trip exactly, every byte value", () =>
      Effect.gen(function*() {
        const store = yield* fresh
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
        yield* store.set("all", bytes)
        expect(yield* store.getUint8Array("all")).toEqual(Option.some(bytes))
        yield* store.set("empty", new Uint8Array(0))
        expect(yield* store.getUint8Array("empty")).toEqual(Option.some(new Uint8Array(0)))
      }))

    it.effect("prefix", () =>
      Effect.gen(function*() {
        const store = yield* fresh
        const prefixed = KeyValueStore.prefix(store, "p/")
        yield* prefixed.set("k", "v")
        yield* prefixed.modify("k", (v) => v + "w")
        expect(yield* prefixed.get("k")).toEqual(Option.some("vw"))
        expect(yield* store.get("p/k")).toEqual(Option.some("vw"))
      }))

    it.effect("forSchema: a SchemaStore encodes and decodes", () =>
      Effect.gen(function*() {
        const store = yield* fresh
        const users = store.forSchema(User)
        yield* users.set("ada", new User({ name: "Ada", age: 36 }))
        yield* users.modify("ada", (user) => new User({ ...user, age: user.age + 1 }))
        const ada = yield* users.get("ada")
        expect(Option.map(ada, (user) => [user instanceof User, user.name, user.age])).toEqual(Option.some([true, "Ada", 37]))
        expect(yield* users.has("ada")).toBe(true)
        expect(yield* users.size).toBe(1)
        yield* store.set("bad", "{\"name\":1}")
        const failure = yield* Effect.flip(users.get("bad"))
        expect(failure._tag).toBe("ParseError")
      }))
  })
})

describe("KeyValueStore: effect-kv reads as the platform's layerMemory does", () => {
  const strings = ["", "plain", "ünïcödé ✓ 😀", "\ud800 lone surrogate", "{\"looks\":\"like json\"}", "AAEC"]
  const bytes = [new Uint8Array([]), new Uint8Array([0, 1, 2, 255]), new TextEncoder().encode("text as bytes")]

  // Every way to write a key, then every way to read it back, on both stores.
  const script = (store: KeyValueStore.KeyValueStore) =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const values: ReadonlyArray<string | Uint8Array> = [...strings, ...bytes]
      for (const [i, value] of values.entries()) {
        const key = `k${i}`
        yield* store.set(key, value)
        seen.push(yield* store.get(key), yield* store.getUint8Array(key))
        seen.push(yield* store.modify(key, (text) => `${text}+`), yield* store.getUint8Array(key))
        yield* store.set(key, value)
        seen.push(yield* store.modifyUint8Array(key, (data) => new Uint8Array([...data, 33])), yield* store.get(key))
      }
      seen.push(yield* store.size, yield* store.has("k0"), yield* store.isEmpty)
      return seen
    })

  it.effect("strings and bytes, each read both ways, after modify and modifyUint8Array", () =>
    Effect.gen(function*() {
      const expected = yield* Effect.flatMap(KeyValueStore.KeyValueStore, script).pipe(Effect.provide(KeyValueStore.layerMemory))
      const actual = yield* Effect.flatMap(KeyValueStore.KeyValueStore, script).pipe(Effect.provide(onKV(KV.layerMemory())))
      expect(actual).toEqual(expected)
    }))
})

describe("KeyValueStore on effect-kv", () => {
  it.scoped("modify is atomic: 100 concurrent increments sum exactly", () =>
    Effect.gen(function*() {
      const store = yield* Layer.build(onKV(KV.layerMemory())).pipe(Effect.map(Context.get(KeyValueStore.KeyValueStore)))
      yield* store.set("counter", "0")
      yield* Effect.forEach(
        Array.from({ length: 100 }),
        () => store.modify("counter", (n) => String(Number(n) + 1)),
        { concurrency: "unbounded", discard: true }
      )
      expect(yield* store.get("counter")).toEqual(Option.some("100"))
    }))

  it.scoped("keeps its keys across a restart, on file storage", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const bytes = new Uint8Array([9, 8, 7])
      yield* Effect.gen(function*() {
        const store = yield* KeyValueStore.KeyValueStore
        yield* store.set("text", "kept")
        yield* store.set("bytes", bytes)
      }).pipe(Effect.provide(onKV(KV.layer({ dataDir }))))
      const store = yield* Layer.build(onKV(KV.layer({ dataDir }))).pipe(Effect.map(Context.get(KeyValueStore.KeyValueStore)))
      expect(yield* store.get("text")).toEqual(Option.some("kept"))
      expect(yield* store.getUint8Array("bytes")).toEqual(Option.some(bytes))
    }))

  it.effect("shows its values to KV as JSON, and reads KV's other values as their JSON text", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("s", "text")
      yield* store.set("b", new Uint8Array([1, 2, 3]))
      expect(yield* kv.get("platform", "s")).toEqual(Option.some("text"))
      expect(yield* kv.get("platform", "b")).toEqual(Option.some({ $bytes: "AQID" }))
      yield* kv.put("platform", "json", { a: [1, null] })
      expect(yield* store.get("json")).toEqual(Option.some("{\"a\":[1,null]}"))
    }).pipe(Effect.provide(Layer.provideMerge(KVKeyValueStore.layer("platform"), KV.layerMemory()))))

  it.effect("refusals are platform errors with the effect-kv error as their cause", () =>
    Effect.gen(function*() {
      const store = yield* KeyValueStore.KeyValueStore
      const empty = yield* Effect.flip(store.set("", "v"))
      expect(PlatformError.isPlatformError(empty)).toBe(true)
      expect(empty).toMatchObject({ _tag: "BadArgument", method: "set", cause: { _tag: "InvalidKey" } })
      const large = yield* Effect.flip(store.set("k", "x".repeat(100)))
      expect(large).toMatchObject({ _tag: "BadArgument", cause: { _tag: "ValueTooLarge" } })
    }).pipe(Effect.provide(onKV(KV.layerMemory({ limits: { maxValueBytes: 50 } })))))
})
