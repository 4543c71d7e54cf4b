import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Option, Schema, Stream } from "effect"
import { KV } from "../../src/kv/KV.js"
import * as Typed from "../../src/kv/Typed.js"
import { onTempDir } from "../storage/fixtures/TempDir.js"

class User extends Schema.Class<User>("User")({
  name: Schema.NonEmptyString,
  born: Schema.DateFromString
}) {}

const ada = new User({ name: "Ada", born: new Date("1815-12-10T00:00:00.000Z") })

const implementations: ReadonlyArray<readonly [string, Layer.Layer<KV, unknown>]> = [
  ["memory", KV.layerMemory()],
  ["file", onTempDir((dataDir) => KV.layer({ dataDir }))]
]

for (const [storage, implementation] of implementations) describe(`Typed on ${storage} storage`, () => {
  layer(implementation)((it) => {
    it.effect("put encodes, get and getEntry decode, delete removes", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const users = Typed.make(kv, "typed-users", User)
        const version = yield* users.put("ada", ada)
        expect(yield* kv.get("typed-users", "ada")).toEqual(Option.some({ name: "Ada", born: "1815-12-10T00:00:00.000Z" }))
        const read = yield* users.get("ada")
        expect(Option.map(read, (user) => user instanceof User && user.born instanceof Date)).toEqual(Option.some(true))
        expect(read).toEqual(Option.some(ada))
        const entry = yield* users.getEntry("ada")
        expect(Option.map(entry, ({ value, version }) => ({ value, version }))).toEqual(Option.some({ value: ada, version }))
        yield* users.put("ada", ada, { expectedVersion: version })
        const stale = yield* Effect.flip(users.put("ada", ada, { expectedVersion: version }))
        expect(stale._tag).toBe("VersionMismatch")
        expect(yield* users.delete("ada")).toBe(true)
        expect(yield* users.get("ada")).toEqual(Option.none())
        expect(yield* users.getEntry("ada")).toEqual(Option.none())
      }))

    it.effect("a stored value that does not decode fails with InvalidStoredValue naming store, key and schema message", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const users = Typed.make(kv, "typed-bad", User)
        yield* kv.put("typed-bad", "bob", { name: "Bob", born: 1816 })
        const reads: ReadonlyArray<Effect.Effect<unknown, unknown>> = [users.get("bob"), users.getEntry("bob")]
        for (const read of reads) {
          const exit = yield* Effect.exit(read)
          expect(Exit.isFailure(exit) && exit.cause._tag === "Fail").toBe(true)
          const error = yield* Effect.flip(read)
          if (!(error instanceof Typed.InvalidStoredValue)) throw error
          expect(error).toBeInstanceOf(Typed.InvalidStoredValue)
          expect(error).toMatchObject({ store: "typed-bad", key: "bob" })
          expect(error.message).toContain("\"bob\"")
          expect(error.message).toContain("typed-bad")
          expect(error.message).toContain("Expected string, actual 1816")
        }
      }))

    it.effect("watch decodes every put's value, an atomic write's too; other changes pass as they are", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const users = Typed.make(kv, "typed-watched", User)
        const bob = new User({ name: "Bob", born: new Date("1816-01-01T00:00:00.000Z") })
        const first = yield* users.put("ada", ada)
        yield* kv.atomic("typed-watched", { ops: [{ op: "put", key: "bob", value: { name: "Bob", born: "1816-01-01T00:00:00.000Z" } }, { op: "delete", key: "ada" }] })
        yield* kv.expire("typed-watched", "bob", "1 hour")
        yield* kv.clear("typed-watched")
        const changes = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(users.watch({ since: 0 }), 4)))
        expect(changes.map((change) => change._tag)).toEqual(["Put", "Atomic", "Touch", "Clear"])
        expect(changes[0]).toEqual({ _tag: "Put", key: "ada", value: ada, version: first, expiresAt: undefined })
        expect((changes[0] as Typed.TypedPut<User>).value).toBeInstanceOf(User)
        expect(changes[1]).toEqual({
          _tag: "Atomic",
          version: first + 1,
          changes: [
            { _tag: "Put", key: "bob", value: bob, version: first + 1, expiresAt: undefined },
            { _tag: "Delete", key: "ada", version: first + 1 }
          ]
        })
      }))

    it.effect("a watch meeting a value that does not decode fails with InvalidStoredValue naming store, key, schema message and version", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const users = Typed.make(kv, "typed-watched-bad", User)
        yield* users.put("ada", ada)
        const bad = yield* kv.put("typed-watched-bad", "bob", { name: "Bob", born: 1816 })
        yield* users.put("carl", ada)
        const error = yield* Effect.flip(Stream.runDrain(users.watch({ since: 0 })))
        if (!(error instanceof Typed.InvalidStoredValue)) throw error
        expect(error).toMatchObject({ store: "typed-watched-bad", key: "bob", version: bad })
        expect(error.message).toContain("Expected string, actual 1816")
        expect(error.message).toContain(`since ${bad}`)
        // Resumed past it, the watch goes on.
        const next = yield* Stream.runCollect(Stream.take(users.watch({ since: error.version! }), 1))
        expect(Chunk.toReadonlyArray(next).map((change) => change._tag === "Put" && change.key)).toEqual(["carl"])
      }))

    it.effect("a value that does not encode fails with UnencodableValue and writes nothing", () =>
      Effect.gen(function*() {
        const kv = yield* KV
        const users = Typed.make(kv, "typed-unencodable", User)
        const invalid = new User({ name: "x", born: new Date(0) }, { disableValidation: true })
        const bad = Object.assign(Object.create(User.prototype) as User, { ...invalid, name: "" })
        const error = yield* Effect.flip(users.put("nobody", bad))
        expect(error).toBeInstanceOf(Typed.UnencodableValue)
        expect(error).toMatchObject({ store: "typed-unencodable", key: "nobody" })
        expect(yield* kv.has("typed-unencodable", "nobody")).toBe(false)
      }))
  })
})
