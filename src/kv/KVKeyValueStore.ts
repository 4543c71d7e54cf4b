/**
 * `@effect/platform`'s `KeyValueStore` backed by one effect-kv store: code written against the
 * platform's interface (or its `SchemaStore`) keeps its data durable, versioned and supervised.
 *
 * ```ts
 * import { KeyValueStore } from "@effect/platform"
 * import { Effect, Layer } from "effect"
 * import { KV, KVKeyValueStore } from "effect-kv"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* KeyValueStore.KeyValueStore
 *   yield* store.set("greeting", "hello")
 *   yield* store.modify("greeting", (text) => `${text}, world`) // a compare-and-set
 * })
 * program.pipe(
 *   Effect.provide(KVKeyValueStore.layer("cache").pipe(Layer.provide(KV.layer({ dataDir: "./data" })))),
 *   Effect.runPromise
 * )
 * ```
 *
 * Each key of the platform's store is a key of the effect-kv store, and its value is kept as a
 * JSON value that HTTP and the CLI show as it is:
 *
 * | set with | kept as | `get` (string) | `getUint8Array` |
 * | --- | --- | --- | --- |
 * | a string | that JSON string | the string | its UTF-8 bytes |
 * | a `Uint8Array` | `{"$bytes": "<base64>"}` | the base64 text | the bytes |
 * | (anything else, put through `KV`) | as it is | its JSON text | the UTF-8 bytes of its JSON text |
 *
 * So strings and bytes round-trip exactly, and reading one as the other gives what the
 * platform's `layerMemory` gives. `modify` and `modifyUint8Array` are compare-and-set loops on the
 * key's version: `f` may run more than once under contention (keep it pure), and no concurrent
 * write is ever lost. Errors are the platform's: a bad key or a value over the store's limit is a
 * `BadArgument`; an overloaded or stopped store a `SystemError` with reason `Busy`, a call
 * timeout `TimedOut`, a damaged log `InvalidData`, any other failure `Unknown`; the effect-kv
 * error is the `cause`.
 *
 * @since 0.2.0
 */
import * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { KV, type KVService } from "./KV.js"

/**
 * How a `Uint8Array` is kept: an object whose one field holds the bytes in base64.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoredBytes {
  readonly $bytes: string
}

/**
 * Whether a stored value holds bytes set through the platform's interface.
 *
 * @since 0.2.0
 * @category guards
 */
export const isStoredBytes = (value: unknown): value is StoredBytes =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  typeof (value as { $bytes?: unknown }).$bytes === "string" && Object.keys(value).length === 1

const encoder = new TextEncoder()

/**
 * A stored value as the platform's `get` returns it.
 *
 * @since 0.2.0
 * @category getters
 */
export const asString = (value: unknown): string =>
  typeof value === "string" ? value : isStoredBytes(value) ? value.$bytes : JSON.stringify(value)

/**
 * A stored value as the platform's `getUint8Array` returns it.
 *
 * @since 0.2.0
 * @category getters
 */
export const asBytes = (value: unknown): Uint8Array => {
  if (typeof value === "string") return encoder.encode(value)
  if (isStoredBytes(value)) {
    const bytes = Encoding.decodeBase64(value.$bytes)
    if (Either.isRight(bytes)) return bytes.right
  }
  return encoder.encode(JSON.stringify(value))
}

/**
 * The value kept for what the platform's `set` was given.
 *
 * @since 0.2.0
 * @category constructors
 */
export const toStored = (value: string | Uint8Array): string | StoredBytes =>
  typeof value === "string" ? value : { $bytes: Encoding.encodeBase64(value) }

/** A platform error for an effect-kv failure of `method`, keeping it as the cause. */
const platformError = (method: string, key: string | undefined) => (error: { readonly _tag: string; readonly message: string }) => {
  const common = {
    module: "KeyValueStore" as const,
    method,
    description: error.message,
    cause: error,
    ...(key === undefined ? {} : { pathOrDescriptor: key })
  }
  switch (error._tag) {
    case "InvalidName":
    case "InvalidKey":
    case "InvalidValue":
    case "ValueTooLarge":
      return new PlatformError.BadArgument(common)
    case "Overloaded":
    case "ServerStopped":
    case "DataDirLocked":
      return new PlatformError.SystemError({ ...common, reason: "Busy" })
    case "CallTimeout":
      return new PlatformError.SystemError({ ...common, reason: "TimedOut" })
    case "CorruptLog":
      return new PlatformError.SystemError({ ...common, reason: "InvalidData" })
    default:
      return new PlatformError.SystemError({ ...common, reason: "Unknown" })
  }
}

/**
 * The platform's `KeyValueStore` on `store` of `kv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (kv: KVService, store: string): KeyValueStore.KeyValueStore => {
  const read = <A>(method: string, key: string, as: (value: unknown) => A) =>
    Effect.mapBoth(kv.get(store, key), { onFailure: platformError(method, key), onSuccess: Option.map(as) })

  // A compare-and-set loop: read the key with its version, write over that version only, and
  // start again if another write came between.
  const modifyWith = <A extends string | Uint8Array>(method: string, key: string, as: (value: unknown) => A, f: (value: A) => A) => {
    const attempt: Effect.Effect<Option.Option<A>, PlatformError.PlatformError> = Effect.flatMap(
      Effect.mapError(kv.getEntry(store, key), platformError(method, key)),
      (entry) => {
        if (Option.isNone(entry)) return Effect.succeedNone
        const next = f(as(entry.value.value))
        return kv.put(store, key, toStored(next), { expectedVersion: entry.value.version }).pipe(
          Effect.as(Option.some(next)),
          Effect.catchIf((error) => error._tag === "VersionMismatch", () => attempt),
          Effect.mapError(platformError(method, key))
        )
      }
    )
    return attempt
  }

  const size = Effect.mapError(kv.size(store), platformError("size", undefined))
  return KeyValueStore.make({
    get: (key) => read("get", key, asString),
    getUint8Array: (key) => read("getUint8Array", key, asBytes),
    set: (key, value) => Effect.asVoid(Effect.mapError(kv.put(store, key, toStored(value)), platformError("set", key))),
    remove: (key) => Effect.asVoid(Effect.mapError(kv.delete(store, key), platformError("remove", key))),
    clear: Effect.asVoid(Effect.mapError(kv.clear(store), platformError("clear", undefined))),
    size,
    has: (key) => Effect.mapError(kv.has(store, key), platformError("has", key)),
    isEmpty: Effect.map(size, (n) => n === 0),
    modify: (key, f) => modifyWith("modify", key, asString, f),
    modifyUint8Array: (key, f) => modifyWith("modifyUint8Array", key, asBytes, f)
  })
}

/**
 * Provides the platform's `KeyValueStore` on `store` of the `KV` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (store: string): Layer.Layer<KeyValueStore.KeyValueStore, never, KV> =>
  Layer.effect(KeyValueStore.KeyValueStore, Effect.map(KV, (kv) => make(kv, store)))
