/**
 * effect-kv: durable, OTP-style key-value stores for Effect.
 *
 * @since 0.1.0
 */

/**
 * The errors of `KV`'s operations.
 *
 * @since 0.1.0
 */
export * from "./kv/Errors.js"
/**
 * The `KV` service, its options and what its operations take and return.
 *
 * @since 0.1.0
 */
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
/**
 * Pages of keys, and the metric of expired keys.
 *
 * @since 0.1.0
 */
export { expiredKeys, type KeyPage, type KeysOptions } from "./kv/Store.js"
/**
 * The limits on names, keys, values and atomic writes.
 *
 * @since 0.1.0
 */
export { defaultLimits, type Limits } from "./kv/Limits.js"
/**
 * What a store holds and what changes it.
 *
 * @since 0.1.0
 */
export type { Change, Entry, Snapshot } from "./storage/Change.js"
/**
 * The errors of storage.
 *
 * @since 0.1.0
 */
export * from "./storage/Errors.js"
/**
 * The `Storage` module, as Effect's own modules are: the tag `Storage.Storage`, `Storage.layerFile`,
 * `Storage.layerMemory`.
 *
 * @since 0.1.0
 */
export * as Storage from "./storage/Storage.js"
/**
 * Checks a data folder's logs record by record.
 *
 * @since 0.1.0
 */
export * as Verify from "./storage/Verify.js"
/**
 * The refusals of a store's server that a caller may retry.
 *
 * @since 0.1.0
 */
export { CallTimeout, Overloaded, ServerStopped } from "./otp/Server.js"
/**
 * `@effect/platform`'s `KeyValueStore` backed by one store: `KVKeyValueStore.layer(store)`.
 *
 * @since 0.2.0
 */
export * as KVKeyValueStore from "./kv/KVKeyValueStore.js"
/**
 * Stores whose values are encoded and decoded with a `Schema`: `Typed.make(kv, store, schema)`.
 *
 * @since 0.2.0
 */
export * as Typed from "./kv/Typed.js"
/**
 * What `KV` measures, as Effect `Metric`s: names, `sample` and `snapshot`.
 *
 * @since 0.2.0
 */
export * as Metrics from "./kv/Metrics.js"
