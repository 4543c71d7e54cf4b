import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schema } from "effect"
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
