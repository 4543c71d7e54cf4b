/**
 * effect-kv: durable, OTP-style key-value stores for Effect.
 *
 * @since 0.1.0
 */
export * from "./kv/Errors.js"
export {
  type AtomicError,
  type AtomicWrite,
  type DeleteOptions,
  type EntryPage,
  type ExpireError,
  type ExpireOptions,
  type KeyEntry,
  KV,
  type KVOptions,
  type KVService,
  type PutOptions,
  type ReadError,
  type StoreError,
  type StoreExport,
  type StoreInfo,
  type SubscribeError,
  type Subscription,
  type Unavailable,
  type WatchError,
  type WatchOptions,
  type WriteError
} from "./kv/KV.js"
export { expiredKeys, type KeyPage, type KeysOptions } from "./kv/Store.js"
export { defaultLimits, type Limits } from "./kv/Limits.js"
export type { Change, Entry, Snapshot } from "./storage/Change.js"
export * from "./storage/Errors.js"
/** The `Storage` module, as Effect's own modules are: the tag `Storage.Storage`, `Storage.layerFile`, `Storage.layerMemory`. */
export * as Storage from "./storage/Storage.js"
export * as Verify from "./storage/Verify.js"
export { CallTimeout, Overloaded, ServerStopped } from "./otp/Server.js"
/** `@effect/platform`'s `KeyValueStore` backed by one store: `KVKeyValueStore.layer(store)`. */
export * as KVKeyValueStore from "./kv/KVKeyValueStore.js"
/** Stores whose values are encoded and decoded with a `Schema`: `Typed.make(kv, store, schema)`. */
export * as Typed from "./kv/Typed.js"
/** What `KV` measures, as Effect `Metric`s: names, `sample` and `snapshot`. */
export * as Metrics from "./kv/Metrics.js"
