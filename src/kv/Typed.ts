/**
 * Typed stores: a store whose values are encoded and decoded with a `Schema`.
 *
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { KV, Typed } from "effect-kv"
 *
 * class User extends Schema.Class<User>("User")({ name: Schema.String, born: Schema.DateFromString }) {}
 *
 * const program = Effect.gen(function*() {
 *   const users = Typed.make(yield* KV, "users", User)
 *   yield* users.put("ada", new User({ name: "Ada", born: new Date("1815-12-10") }))
 *   const ada = yield* users.get("ada") // Option<User>, `born` a Date again
 *   const changes = users.watch({ prefix: "a" }) // Stream of changes, every put's value a User
 * })
 * ```
 *
 * A put stores the schema's encoded form (which must be JSON: `Schema.DateFromString`, not
 * `Schema.Date`), so HTTP and the CLI see it as plain JSON; a read decodes it. A stored value that
 * does not decode (written by another program, or under an older schema) fails the read, or ends
 * the watch, with {@link InvalidStoredValue}, naming the store, the key and what the schema said
 * (and in a watch the change's version, to resume past it): never a defect.
 * A value that does not encode fails the put with {@link UnencodableValue}, and nothing is written.
 *
 * `Typed.make(kv, store, schema)` is a function over the `KV` service rather than a method of it:
 * it is built from public operations only, as the platform's `forSchema` is, so the service keeps
 * one shape (no generic method for every layer and wrapper of `KV` to carry), and a typed store
 * costs nothing to make.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Change, Clear, Delete, Entry, Expire, Put, Touch } from "../storage/Change.js"
import type { DeleteOptions, KVService, PutOptions, ReadError, WatchError, WatchOptions, WriteError } from "./KV.js"

/**
 * A stored value that the store's schema does not decode.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidStoredValue extends Schema.TaggedError<InvalidStoredValue>()("InvalidStoredValue", {
  store: Schema.String,
  key: Schema.String,
  reason: Schema.String,
  /** In a watch, the version of the change that held the value: watch again with it as `since` to go on past it. */
  version: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return `the value of key ${JSON.stringify(this.key.slice(0, 200))} in store "${this.store}" does not decode ` +
      `with the store's schema: ${this.reason}; ` +
      (this.version === undefined
        ? "put a valid value or delete the key"
        : `watch again with since ${this.version} to go on past this change`)
  }
}

/**
 * A value that the store's schema does not encode; nothing was written.
 *
 * @since 0.2.0
 * @category errors
 */
export class UnencodableValue extends Schema.TaggedError<UnencodableValue>()("UnencodableValue", {
  store: Schema.String,
  key: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `the value for key ${JSON.stringify(this.key.slice(0, 200))} in store "${this.store}" does not encode ` +
      `with the store's schema: ${this.reason}; nothing was written`
  }
}

/**
 * An entry with its value decoded.
 *
 * @since 0.2.0
 * @category models
 */
export type TypedEntry<A> = Omit<Entry, "value"> & { readonly value: A }

/**
 * A put as a watch of a typed store sees it: its value decoded.
 *
 * @since 0.2.0
 * @category models
 */
export type TypedPut<A> = Omit<Put, "value" | "json"> & { readonly value: A }

/**
 * A change as a watch of a typed store sees it: the store's `Change`, with every put's value
 * decoded (an atomic write's too).
 *
 * @since 0.2.0
 * @category models
 */
export type TypedChange<A> =
  | TypedPut<A>
  | Delete
  | Clear
  | Expire
  | Touch
  | { readonly _tag: "Atomic"; readonly version: number; readonly changes: ReadonlyArray<TypedPut<A> | Delete> }

/**
 * A store whose values are `A`, kept as the schema's encoded form `I`.
 *
 * @since 0.2.0
 * @category models
 */
export interface TypedStore<A, I = A, R = never> {
  readonly store: string
  readonly schema: Schema.Schema<A, I, R>
  /** The value of `key`, decoded, if present. */
  readonly get: (key: string) => Effect.Effect<Option.Option<A>, ReadError | InvalidStoredValue, R>
  /** The value of `key`, decoded, with its version, if present. */
  readonly getEntry: (key: string) => Effect.Effect<Option.Option<TypedEntry<A>>, ReadError | InvalidStoredValue, R>
  /** Encodes `value` and sets `key` to it; returns the key's new version. */
  readonly put: (key: string, value: A, options?: PutOptions) => Effect.Effect<number, WriteError | UnencodableValue, R>
  /** Removes `key`; returns whether it was present. */
  readonly delete: (key: string, options?: DeleteOptions) => Effect.Effect<boolean, WriteError>
  /**
   * The store's changes as `KV.watch` gives them, every put's value decoded; a value that does
   * not decode ends the stream with `InvalidStoredValue`, which names its change's `version`.
   */
  readonly watch: (options?: WatchOptions) => Stream.Stream<TypedChange<A>, WatchError | InvalidStoredValue, R>
}

/**
 * The typed view of `store` in `kv`, its values encoded and decoded with `schema`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <A, I, R>(kv: KVService, store: string, schema: Schema.Schema<A, I, R>): TypedStore<A, I, R> => {
  const decodeUnknown = Schema.decodeUnknown(schema)
  const encode = Schema.encode(schema)
  const decode = (key: string, value: unknown) =>
    Effect.mapError(decodeUnknown(value), (error: ParseResult.ParseError) => new InvalidStoredValue({ store, key, reason: error.message }))
  const decodePut = (put: Put): Effect.Effect<TypedPut<A>, InvalidStoredValue, R> =>
    Effect.mapBoth(decodeUnknown(put.value), {
      onFailure: (error) => new InvalidStoredValue({ store, key: put.key, reason: error.message, version: put.version }),
      onSuccess: (value) => ({ _tag: "Put", key: put.key, value, version: put.version, expiresAt: put.expiresAt })
    })
  const decodeChange = (change: Change): Effect.Effect<TypedChange<A>, InvalidStoredValue, R> => {
    switch (change._tag) {
      case "Put":
        return decodePut(change)
      case "Atomic":
        return Effect.map(
          Effect.forEach(change.changes, (inner): Effect.Effect<TypedPut<A> | Delete, InvalidStoredValue, R> =>
            inner._tag === "Put" ? decodePut(inner) : Effect.succeed(inner)),
          (changes) => ({ _tag: "Atomic", version: change.version, changes })
        )
      default:
        return Effect.succeed(change)
    }
  }
  const getEntry = (key: string) =>
    Effect.flatMap(kv.getEntry(store, key), (entry) =>
      Option.isNone(entry)
        ? Effect.succeedNone
        : Effect.map(decode(key, entry.value.value), (value) => Option.some({ ...entry.value, value })))
  return {
    store,
    schema,
    get: (key) =>
      Effect.flatMap(kv.get(store, key), (value) =>
        Option.isNone(value) ? Effect.succeedNone : Effect.asSome(decode(key, value.value))),
    getEntry,
    put: (key, value, options) =>
      Effect.flatMap(
        Effect.mapError(encode(value), (error) => new UnencodableValue({ store, key, reason: error.message })),
        (encoded) => kv.put(store, key, encoded, options)
      ),
    delete: (key, options) => kv.delete(store, key, options),
    watch: (options) => Stream.mapEffect(kv.watch(store, options), decodeChange)
  }
}
