/**
 * `@effect/experimental`'s `Persistence` on effect-kv, through the interface itself: the backing
 * store's semantics run against the library's own `layerMemory` and against ours on memory and
 * file storage; time to live as the keys' expiry on `TestClock`; `ResultPersistence` and
 * `PersistedCache` over a data folder that is closed and opened again.
 */
import * as PersistedCache from "@effect/experimental/PersistedCache"
import * as Persistence from "@effect/experimental/Persistence"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Option, PrimaryKey, Schema, type Scope, TestClock } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as KVPersistence from "../../src/kv/KVPersistence.js"
import { tempDir } from "../storage/fixtures/TempDir.js"

/** The backing persistence and the `KV` under it (none for the library's own), built in the test's scope. */
type Backing = Effect.Effect<
  { readonly persistence: Persistence.BackingPersistence; readonly kv: Option.Option<KV["Type"]> },
  never,
  Scope.Scope
>

const onKV = (kvLayer: Layer.Layer<KV>, options?: KVPersistence.Options): Backing =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.provideMerge(KVPersistence.layer(options), kvLayer))
    return { persistence: Context.get(context, Persistence.BackingPersistence), kv: Option.some(Context.get(context, KV)) }
  })

const onDisk = (options: KVOptions = {}): Backing =>
  Effect.flatMap(tempDir, (dataDir) => onKV(Layer.orDie(KV.layer({ ...options, dataDir }))))

const implementations: ReadonlyArray<readonly [string, Backing]> = [
  ["the library's layerMemory", Effect.map(Layer.build(Persistence.layerMemory), (context) => ({
    persistence: Context.get(context, Persistence.BackingPersistence),
    kv: Option.none()
  }))],
  ["effect-kv on memory storage", onKV(KV.layerMemory())],
  ["effect-kv on file storage", onDisk()]
]

const forever = Option.none<Duration.Duration>()
const after = (ttl: Duration.DurationInput) => Option.some(Duration.decode(ttl))

for (const [name, backing] of implementations) {
  describe(`BackingPersistence: ${name}`, () => {
    it.scoped("set, get, getMany, remove; each storeId a store of its own", () =>
      Effect.gen(function*() {
        const { persistence } = yield* backing
        const users = yield* persistence.make("users")
        const orders = yield* persistence.make("orders")
        yield* users.set("ada", { name: "Ada", tags: ["x"] }, forever)
        yield* users.set("bob", "Bob", forever)
        yield* orders.set("ada", 3, forever)
        expect(yield* users.get("ada")).toEqual(Option.some({ name: "Ada", tags: ["x"] }))
        expect(yield* users.get("nobody")).toEqual(Option.none())
        expect(yield* users.getMany(["bob", "nobody", "ada"])).toEqual([
          Option.some("Bob"),
          Option.none(),
          Option.some({ name: "Ada", tags: ["x"] })
        ])
        expect(yield* orders.get("ada")).toEqual(Option.some(3))
        yield* users.set("bob", "Robert", forever)
        expect(yield* users.get("bob")).toEqual(Option.some("Robert"))
        yield* users.remove("bob")
        yield* users.remove("never there")
        expect(yield* users.get("bob")).toEqual(Option.none())
        // The same storeId made again is the same store.
        expect(yield* (yield* persistence.make("users")).get("ada")).toEqual(Option.some({ name: "Ada", tags: ["x"] }))
      }))

    it.scoped("setMany sets every entry, a later one of a key over an earlier; clear empties one store only", () =>
      Effect.gen(function*() {
        const { persistence } = yield* backing
        const users = yield* persistence.make("users")
        const orders = yield* persistence.make("orders")
        yield* orders.set("o1", 1, forever)
        yield* users.setMany([])
        yield* users.setMany([["a", 1, forever], ["b", 2, after("1 hour")], ["a", 3, forever]])
        expect(yield* users.getMany(["a", "b"])).toEqual([Option.some(3), Option.some(2)])
        yield* users.clear
        expect(yield* users.getMany(["a", "b"])).toEqual([Option.none(), Option.none()])
        expect(yield* orders.get("o1")).toEqual(Option.some(1))
      }))

    it.scoped("a time to live: there until its deadline, then gone from every read; none or infinite is forever", () =>
      Effect.gen(function*() {
        const { persistence } = yield* backing
        const store = yield* persistence.make("ttl")
        yield* store.set("short", "s", after("10 seconds"))
        yield* store.setMany([["batch", "b", after("20 seconds")], ["infinite", "i", Option.some(Duration.infinity)]])
        yield* store.set("forever", "f", forever)
        yield* TestClock.adjust("9999 millis")
        expect(yield* store.get("short")).toEqual(Option.some("s"))
        yield* TestClock.adjust("1 millis")
        expect(yield* store.get("short")).toEqual(Option.none())
        expect(yield* store.getMany(["short", "batch"])).toEqual([Option.none(), Option.some("b")])
        yield* TestClock.adjust("10 seconds")
        expect(yield* store.get("batch")).toEqual(Option.none())
        yield* TestClock.adjust("1 hour")
        expect(yield* store.getMany(["infinite", "forever"])).toEqual([Option.some("i"), Option.some("f")])
      }))

    it.scoped("a set with a time to live of zero leaves the key absent", () =>
      Effect.gen(function*() {
        const { persistence } = yield* backing
        const store = yield* persistence.make("zero")
        yield* store.set("k", 1, forever)
        yield* store.set("k", 2, after(Duration.zero))
        yield* store.setMany([["m", 1, after(Duration.zero)]])
        expect(yield* store.getMany(["k", "m"])).toEqual([Option.none(), Option.none()])
      }))
  })
}

describe("BackingPersistence on effect-kv", () => {
  it.scoped("a storeId is the store prefix + storeId; values are plain JSON there, with the time to live as the expiry", () =>
    Effect.gen(function*() {
      const { kv, persistence } = yield* onKV(KV.layerMemory(), { prefix: "cache." })
      const store = yield* persistence.make("users")
      const start = yield* TestClock.currentTimeMillis
      yield* store.set("ada", { name: "Ada" }, after("1 minute"))
      yield* store.set("bob", "Bob", forever)
      const entry = yield* Option.getOrThrow(kv).getEntry("cache.users", "ada")
      expect(Option.map(entry, ({ expiresAt, value }) => ({ expiresAt, value }))).toEqual(
        Option.some({ expiresAt: start + 60_000, value: { name: "Ada" } })
      )
      expect(Option.map(yield* Option.getOrThrow(kv).getEntry("cache.users", "bob"), (entry) => entry.expiresAt))
        .toEqual(Option.some(undefined))
    }))

  it.scoped("setMany is one atomic write: every key at the write's one version", () =>
    Effect.gen(function*() {
      const { kv, persistence } = yield* onKV(KV.layerMemory())
      const store = yield* persistence.make("batch")
      yield* store.setMany([["a", 1, forever], ["b", 2, after("1 hour")], ["c", 3, forever]])
      const versions = yield* Effect.forEach(["a", "b", "c"], (key) =>
        Effect.map(Option.getOrThrow(kv).getEntry("batch", key), (entry) => Option.getOrThrow(entry).version))
      expect(new Set(versions)).toEqual(new Set([1]))
    }))

  it.scoped("setMany over the store's atomic limits is written in atomic parts, every entry set", () =>
    Effect.gen(function*() {
      const { persistence } = yield* onKV(KV.layerMemory({ limits: { maxAtomicOperations: 4, maxAtomicBytes: 600 } }))
      const store = yield* persistence.make("big")
      const entries = Array.from({ length: 23 }, (_, i) => [`k${i}`, "v".repeat(i * 10), forever] as const)
      yield* store.setMany(entries)
      expect(yield* store.getMany(entries.map(([key]) => key))).toEqual(entries.map(([, value]) => Option.some(value)))
    }))

  it.scoped("a failure is a PersistenceBackingError with the effect-kv error as its cause", () =>
    Effect.gen(function*() {
      const { persistence } = yield* onKV(KV.layerMemory({ limits: { maxValueBytes: 10 } }))
      const store = yield* persistence.make("limited")
      const tooLarge = yield* Effect.flip(store.set("k", "a value over ten bytes", forever))
      expect(tooLarge).toBeInstanceOf(Persistence.PersistenceBackingError)
      expect(tooLarge.reason).toBe("BackingError")
      expect((tooLarge as Persistence.PersistenceBackingError).method).toBe("set")
      expect(((tooLarge as Persistence.PersistenceBackingError).cause as { _tag: string })._tag).toBe("ValueTooLarge")
      const badName = yield* Effect.flip((yield* persistence.make("no/slashes")).get("k"))
      expect(((badName as Persistence.PersistenceBackingError).cause as { _tag: string })._tag).toBe("InvalidName")
      const notJson = yield* Effect.flip(store.setMany([["k", Number.NaN, forever]]))
      expect(((notJson as Persistence.PersistenceBackingError).cause as { _tag: string })._tag).toBe("InvalidValue")
    }))
})

class User extends Schema.Class<User>("User")({ id: Schema.Number, name: Schema.String }) {}

class GetUser extends Schema.TaggedRequest<GetUser>()("GetUser", {
  failure: Schema.String,
  success: User,
  payload: { id: Schema.Number }
}) {
  [PrimaryKey.symbol]() {
    return `user-${this.id}`
  }
}

/** Runs `program` on `ResultPersistence` over the data folder `dataDir`, closing its `KV` after. */
const withResults = <A, E>(dataDir: string, program: Effect.Effect<A, E, Persistence.ResultPersistence | Scope.Scope>) =>
  Effect.scoped(
    Effect.provide(program, KVPersistence.layerResult({ prefix: "results." }).pipe(Layer.provide(Layer.orDie(KV.layer({ dataDir })))))
  )

describe("ResultPersistence and PersistedCache on effect-kv", () => {
  it.scoped("ResultPersistence: successes and failures persisted, found again after the KV is closed and opened", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const ada = new GetUser({ id: 1 })
      const missing = new GetUser({ id: 2 })
      const never = new GetUser({ id: 3 })
      yield* withResults(dataDir, Effect.gen(function*() {
        const results = yield* (yield* Persistence.ResultPersistence).make({ storeId: "users" })
        yield* results.set(ada, Exit.succeed(new User({ id: 1, name: "Ada" })))
        yield* results.setMany([[missing, Exit.fail("no user 2")]])
      }))
      yield* withResults(dataDir, Effect.gen(function*() {
        const results = yield* (yield* Persistence.ResultPersistence).make({ storeId: "users" })
        expect(yield* results.get(ada)).toEqual(Option.some(Exit.succeed(new User({ id: 1, name: "Ada" }))))
        const many = yield* results.getMany([missing, never])
        expect(many).toEqual([Option.some(Exit.fail("no user 2")), Option.none()])
        yield* results.remove(ada)
        expect(yield* results.get(ada)).toEqual(Option.none())
      }))
      yield* withResults(dataDir, Effect.gen(function*() {
        const results = yield* (yield* Persistence.ResultPersistence).make({ storeId: "users" })
        expect(yield* results.get(ada)).toEqual(Option.none())
        yield* results.clear
        expect(yield* results.get(missing)).toEqual(Option.none())
      }))
    }))

  it.scoped("PersistedCache: a result looked up once is served after a restart until its time to live, then looked up again", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const lookups: Array<number> = []
      const cache = PersistedCache.make({
        storeId: "users",
        lookup: (request: GetUser) => {
          lookups.push(request.id)
          return request.id === 2 ? Effect.fail(`no user ${request.id}`) : Effect.succeed(new User({ id: request.id, name: `user ${request.id}` }))
        },
        timeToLive: (_request, exit) => Exit.isSuccess(exit) ? "1 hour" : "1 minute",
        inMemoryTTL: "1 millis"
      })
      yield* withResults(dataDir, Effect.gen(function*() {
        const users = yield* cache
        expect(yield* users.get(new GetUser({ id: 1 }))).toEqual(new User({ id: 1, name: "user 1" }))
        expect(yield* Effect.flip(users.get(new GetUser({ id: 2 })))).toBe("no user 2")
      }))
      expect(lookups).toEqual([1, 2])
      yield* withResults(dataDir, Effect.gen(function*() {
        const users = yield* cache
        expect(yield* users.get(new GetUser({ id: 1 }))).toEqual(new User({ id: 1, name: "user 1" }))
        expect(yield* Effect.flip(users.get(new GetUser({ id: 2 })))).toBe("no user 2")
        expect(lookups).toEqual([1, 2])
        // The failure's minute passes: it is looked up again; the success's hour has not.
        yield* TestClock.adjust("2 minutes")
        expect(yield* Effect.flip(users.get(new GetUser({ id: 2 })))).toBe("no user 2")
        expect(yield* users.get(new GetUser({ id: 1 }))).toEqual(new User({ id: 1, name: "user 1" }))
        expect(lookups).toEqual([1, 2, 2])
        yield* TestClock.adjust("1 hour")
        yield* users.get(new GetUser({ id: 1 }))
        expect(lookups).toEqual([1, 2, 2, 1])
        yield* users.invalidate(new GetUser({ id: 1 }))
      }))
      yield* withResults(dataDir, Effect.gen(function*() {
        const results = yield* (yield* Persistence.ResultPersistence).make({ storeId: "users" })
        expect(yield* results.get(new GetUser({ id: 1 }))).toEqual(Option.none())
      }))
    }))
})
