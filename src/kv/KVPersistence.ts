/**
 * `@effect/experimental`'s `Persistence` backed by effect-kv: `PersistedCache` and
 * `ResultPersistence` keep their results in durable, versioned, supervised stores, and find them
 * again after a restart. Import it from `effect-kv/persistence`, which alone loads
 * `@effect/experimental` (an optional peer dependency).
 *
 * ```ts
 * import { PersistedCache } from "@effect/experimental"
 * import { Effect, Layer } from "effect"
 * import { KV } from "effect-kv"
 * import { KVPersistence } from "effect-kv/persistence"
 *
 * const persistence = KVPersistence.layerResult().pipe(Layer.provide(KV.layer({ dataDir: "./data" })))
 * ```
 *
 * Each `storeId` is one effect-kv store (named `prefix` + `storeId`), each persisted key a key
 * of it, each value the JSON value the caller persists. A time to live is the key's expiry (a
 * put with `ttl`): past it every read finds the key absent, and the store removes it and tells
 * its watchers, as for any key that expires; without one the key never expires. `setMany` is
 * one atomic write when it fits the store's atomic limits, else atomic parts that do.
 * A failure is a `PersistenceBackingError` whose `cause` is the effect-kv error.
 *
 * @since 0.2.0
 */
import * as Persistence from "@effect/experimental/Persistence"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type AtomicError, type AtomicWrite, KV, type KVService, type PutOptions } from "./KV.js"

/**
 * How `storeId`s become store names.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Put before every `storeId` to name its store (default none), to keep persisted stores apart
   * from the app's own. A store name is letters, digits, `.`, `_` and `-`.
   */
  readonly prefix?: string
}

type TimeToLive = Option.Option<Duration.Duration>

/** A put's `ttl` for the persisted time to live: an infinite one, or none, is no expiry. */
const putOptions = (ttl: TimeToLive): Pick<PutOptions, "ttl"> =>
  Option.isSome(ttl) && Duration.isFinite(ttl.value) ? { ttl: ttl.value } : {}

/** A time to live that is already over: its key is as good as gone. */
const isOver = (ttl: TimeToLive): boolean => Option.isSome(ttl) && Duration.toMillis(ttl.value) <= 0

/**
 * The `Persistence` store on the store `store` of `kv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStore = (kv: KVService, store: string): Persistence.BackingPersistenceStore => {
  const backingError = (method: string) => (error: unknown) => Persistence.PersistenceBackingError.make(method, error)
  const get = (method: string) => (key: string) => Effect.mapError(kv.get(store, key), backingError(method))

  // One atomic write; one over the store's atomic limits is written as two halves, each again
  // one atomic write or halved in turn.
  const writeAll = (ops: AtomicWrite["ops"]): Effect.Effect<void, AtomicError> =>
    Effect.catchIf(
      Effect.asVoid(kv.atomic(store, { ops })),
      (error) => ops.length > 1 && (error._tag === "TooManyOperations" || error._tag === "AtomicTooLarge"),
      () => {
        const half = Math.ceil(ops.length / 2)
        return Effect.zipRight(writeAll(ops.slice(0, half)), writeAll(ops.slice(half)))
      }
    )

  return {
    get: get("get"),
    getMany: (keys) => Effect.forEach(keys, get("getMany")),
    set: (key, value, ttl) =>
      Effect.mapError(
        isOver(ttl) ? Effect.asVoid(kv.delete(store, key)) : Effect.asVoid(kv.put(store, key, value, putOptions(ttl))),
        backingError("set")
      ),
    setMany: (entries) => {
      if (entries.length === 0) return Effect.void
      const ops: Array<AtomicWrite["ops"][number]> = []
      for (const [key, value, ttl] of entries) {
        ops.push(isOver(ttl) ? { op: "delete", key } : { op: "put", key, value, ...putOptions(ttl) })
      }
      return Effect.mapError(writeAll(ops), backingError("setMany"))
    },
    remove: (key) => Effect.asVoid(Effect.mapError(kv.delete(store, key), backingError("remove"))),
    clear: Effect.asVoid(Effect.mapError(kv.clear(store), backingError("clear")))
  }
}

/**
 * `Persistence`'s `BackingPersistence` on `kv`: one store per `storeId`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (kv: KVService, options: Options = {}): Persistence.BackingPersistence => {
  const prefix = options.prefix ?? ""
  return Persistence.BackingPersistence.of({
    [Persistence.BackingPersistenceTypeId]: Persistence.BackingPersistenceTypeId,
    make: (storeId) => Effect.succeed(makeStore(kv, prefix + storeId))
  })
}

/**
 * Provides `BackingPersistence` on the `KV` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Persistence.BackingPersistence, never, KV> =>
  Layer.effect(Persistence.BackingPersistence, Effect.map(KV, (kv) => make(kv, options)))

/**
 * Provides `ResultPersistence` (what `PersistedCache` needs) on the `KV` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerResult = (options?: Options): Layer.Layer<Persistence.ResultPersistence, never, KV> =>
  Persistence.layerResult.pipe(Layer.provide(layer(options)))
