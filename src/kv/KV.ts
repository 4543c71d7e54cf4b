/**
 * The `KV` service: durable named key-value stores for an Effect application.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const kv = yield* KV
 *   const version = yield* kv.put("users", "ada", { name: "Ada" })
 *   const ada = yield* kv.get("users", "ada") // Option.some({ name: "Ada" })
 * })
 * program.pipe(Effect.provide(KV.layerMemory()), Effect.runPromise)
 * ```
 *
 * Values are any JSON value and are kept as given: treat them as immutable after a put.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type { CallTimeout, Overloaded, ServerStopped } from "../otp/Server.js"
import type * as Supervisor from "../otp/Supervisor.js"
import type { Entry } from "../storage/Change.js"
import type { StorageFailure } from "../storage/Errors.js"
import * as Storage from "../storage/Storage.js"
import type {
  InvalidKey,
  InvalidName,
  InvalidQuery,
  InvalidValue,
  StoreFailed,
  ValueTooLarge,
  VersionMismatch
} from "./Errors.js"
import { checkKey, checkName, defaultLimits, encodeValue, type Limits } from "./Limits.js"
import * as Store from "./Store.js"
import type * as Stores from "./Stores.js"
import * as Metrics from "./internal/metrics.js"
import * as Observe from "./internal/observe.js"
import * as Tree from "./Tree.js"

export type {
  /** @since 0.1.0 @category models */
  KeyPage,
  /** @since 0.1.0 @category models */
  KeysOptions
} from "./Store.js"

/**
 * Conditions on a put.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutOptions {
  /** Write only if the key's version is this one (compare-and-set); else `VersionMismatch`. */
  readonly expectedVersion?: number
  /** Write only if the key is absent (create-only); else `VersionMismatch`. */
  readonly ifAbsent?: boolean
  /** Write unless the key is at this version (HTTP's `If-None-Match: "<v>"`); else `VersionMismatch`. */
  readonly unlessVersion?: number
}

/**
 * Conditions on a delete.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeleteOptions {
  /** Delete only if the key's version is this one; else `VersionMismatch`. */
  readonly expectedVersion?: number
}

/**
 * What {@link KVService.storeInfo} tells of a store.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreInfo {
  /** How many keys it holds. */
  readonly size: number
  /**
   * The version of its last change (0 for a store never written). Every write takes the next
   * version, so a key's version is at most this.
   */
  readonly version: number
}

/**
 * Why a store could not be reached: a bad name, its log could not be opened, it crashed past its
 * restart intensity (`StoreFailed`, until `restartStore`), or the supervisor of the stores is being
 * restarted by the tree (`ServerStopped`: retry).
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreError = InvalidName | StorageFailure | StoreFailed | ServerStopped

/**
 * Why a read failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadError = StoreError | InvalidKey

/**
 * Why the store did not take a write: overload and a stopped store are worth a retry.
 *
 * @since 0.1.0
 * @category errors
 */
export type Unavailable = ServerStopped | CallTimeout | Overloaded

/**
 * Why a write failed. Only a write that succeeded was applied.
 *
 * @since 0.1.0
 * @category errors
 */
export type WriteError = ReadError | InvalidValue | ValueTooLarge | VersionMismatch | Unavailable

/**
 * The key-value store. Store names and keys are checked on every call; see `Limits`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KVService {
  /** Sets `key` to `value` in `store`; returns the key's new version. */
  readonly put: (store: string, key: string, value: unknown, options?: PutOptions) => Effect.Effect<number, WriteError>
  /** The value of `key`, if present. */
  readonly get: (store: string, key: string) => Effect.Effect<Option.Option<unknown>, ReadError>
  /** The value of `key` with its version, if present. */
  readonly getEntry: (store: string, key: string) => Effect.Effect<Option.Option<Entry>, ReadError>
  /** Whether `key` is present. */
  readonly has: (store: string, key: string) => Effect.Effect<boolean, ReadError>
  /** Removes `key`; returns whether it was present. */
  readonly delete: (store: string, key: string, options?: DeleteOptions) => Effect.Effect<boolean, WriteError>
  /** One page of `store`'s keys, sorted. */
  readonly keys: (store: string, options?: Store.KeysOptions) => Effect.Effect<Store.KeyPage, StoreError | InvalidQuery>
  /** How many keys `store` holds. */
  readonly size: (store: string) => Effect.Effect<number, StoreError>
  /** How many keys `store` holds and its version, read at one moment. */
  readonly storeInfo: (store: string) => Effect.Effect<StoreInfo, StoreError>
  /** Removes every key of `store`; returns how many there were. */
  readonly clear: (store: string) => Effect.Effect<number, StoreError | Unavailable>
  /** The names of the stores that hold data, sorted. */
  readonly stores: Effect.Effect<ReadonlyArray<string>, StorageFailure>
  /** Stops `store` and deletes its data. */
  readonly dropStore: (store: string) => Effect.Effect<void, StoreError>
  /** Starts a store that failed with `StoreFailed` again, from its log. */
  readonly restartStore: (store: string) => Effect.Effect<void, StoreError>
  /**
   * The root of the supervision tree (see `Tree`): `startChild` adds a child after the stores,
   * as the HTTP server does, which then stops before them.
   */
  readonly supervisor: Supervisor.Supervisor
  /** Rewrites `store`'s log as a snapshot of its state, reclaiming the space of dead records. */
  readonly compact: (store: string) => Effect.Effect<void, StoreError>
}

/**
 * Options of the `KV` layers.
 *
 * @since 0.1.0
 * @category models
 */
export interface KVOptions {
  /** Limits on names, keys and values; see `Limits` for the defaults. */
  readonly limits?: Partial<Limits>
  /** How long a write waits for its store (default 5 seconds). */
  readonly callTimeout?: Duration.DurationInput
  /** Writes that may wait for one store; past it a write fails with `Overloaded` (default 10,000). */
  readonly mailboxCapacity?: number
  /** The most writes a store commits as one batch (default 1,000). */
  readonly maxBatch?: number
  /** A store unused this long is closed, and reopened on next use (default 5 minutes). */
  readonly idleTimeout?: Duration.DurationInput
  /** Each store's restart intensity: more than 3 restarts in 5 seconds fail it, by default. */
  readonly storeRestarts?: Stores.StoreRestarts
  /**
   * Count operations and time writes in Effect `Metric`s (default true); see `Metrics`.
   *
   * @since 0.2.0
   */
  readonly metrics?: boolean
  /**
   * A span per operation (`kv.put`, ...), and the store's and the disk's work for it under it,
   * when a tracer records spans (default true; without a tracer of your own nothing is made, see
   * `Tracing` in `effect-kv/otp`).
   *
   * @since 0.2.0
   */
  readonly tracing?: boolean
}

/**
 * Builds the service on a supervision tree whose `storage` child is built from `storage` (see
 * `Tree`); the stores live as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  storage: Layer.Layer<Storage.Storage, E, R>,
  options: KVOptions = {}
): Effect.Effect<KVService, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const limits: Limits = { ...defaultLimits, ...options.limits }
    const tree = yield* Tree.make(storage, {
      ...(options.mailboxCapacity === undefined ? {} : { capacity: options.mailboxCapacity }),
      ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
      ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
      ...(options.storeRestarts === undefined ? {} : { storeRestarts: options.storeRestarts }),
      ...(options.tracing === undefined ? {} : { tracing: options.tracing })
    })
    const registry = tree.stores
    const callOptions = options.callTimeout === undefined ? {} : { timeout: options.callTimeout }
    const observer = Observe.make({ metrics: options.metrics ?? true, tracing: options.tracing ?? true })
    if (options.metrics ?? true) yield* Metrics.register(Metrics.readingOf(registry))

    const lookup = (store: string) => Effect.flatMap(checkName(limits, store), registry.lookup)
    // Name and key are checked at once, before the store is started, with no runtime operation
    // spent on them: reads and writes go through here.
    const invalid = (store: string, key: string): InvalidName | InvalidKey | undefined => {
      const name = checkName(limits, store)
      if (Either.isLeft(name)) return name.left
      const checkedKey = checkKey(limits, key)
      return Either.isLeft(checkedKey) ? checkedKey.left : undefined
    }
    const lookupWithKey = (store: string, key: string) =>
      Effect.suspend((): Effect.Effect<Store.Store, ReadError> => {
        const error = invalid(store, key)
        return error === undefined ? registry.lookup(store) : Effect.fail(error)
      })
    // Observed inside the steps a read takes anyway: see `internal/observe.ts`.
    const read = <A>(kind: string, f: (entry: Option.Option<Entry>) => A) =>
      observer.reader<Store.Store, A, ReadError>(
        kind,
        invalid,
        registry.usable,
        registry.lookup,
        (running, key) => Effect.map(Ref.get(running.entries), (entries) => f(HashMap.get(entries, key)))
      )
    const storeInfo = (store: string) =>
      Effect.flatMap(lookup(store), (running) =>
        Ref.modify(running.entries, (entries) => {
          const info: StoreInfo = { size: HashMap.size(entries), version: running.version() }
          return [info, entries] as const
        }))

    const service: KVService = {
      // Plain combinators, not Effect.gen, on the hot path: a generator per put cost 5% of a write.
      put: (store, key, value, putOptions) =>
        Effect.flatMap(lookupWithKey(store, key), (running) =>
          Effect.flatMap(encodeValue(limits, value), (json) =>
            running.server.call({
              _tag: "Put",
              key,
              value,
              json,
              expected: putOptions?.ifAbsent ? null : putOptions?.expectedVersion,
              unless: putOptions?.unlessVersion
            }, callOptions))),
      get: read("get", Option.map((entry) => entry.value)),
      getEntry: read("getEntry", identity),
      has: read("has", Option.isSome),
      delete: (store, key, deleteOptions) =>
        Effect.flatMap(
          lookupWithKey(store, key),
          (running) =>
            running.server.call({ _tag: "Delete", key, expected: deleteOptions?.expectedVersion }, callOptions)
        ).pipe(Effect.map((version) => version > 0)),
      keys: (store, keysOptions) =>
        Effect.flatMap(lookup(store), (running) =>
          Effect.flatMap(Ref.get(running.entries), (entries) => Store.keyPage(entries, keysOptions))),
      size: (store) => Effect.flatMap(lookup(store), (running) => Effect.map(Ref.get(running.entries), HashMap.size)),
      storeInfo,
      clear: (store) =>
        Effect.flatMap(lookup(store), (running) => running.server.call({ _tag: "Clear" }, callOptions)).pipe(
          // A clear compares no versions: `VersionMismatch` cannot happen.
          Effect.catchTag("VersionMismatch", Effect.die)
        ),
      stores: Effect.flatMap(tree.storage, (storage) => storage.stores),
      dropStore: (store) =>
        Effect.flatMap(checkName(limits, store), (name) =>
          Effect.zipRight(registry.stop(name), Effect.flatMap(tree.storage, (storage) => storage.drop(name)))),
      restartStore: (store) => Effect.flatMap(checkName(limits, store), registry.restart),
      supervisor: tree.root,
      compact: (store) => Effect.flatMap(lookup(store), (running) => running.compact)
    }
    return Observe.instrument(service, observer)
  })

/**
 * The key-value store.
 *
 * @since 0.1.0
 * @category tags
 */
export class KV extends Context.Tag("effect-kv/KV")<KV, KVService>() {
  /**
   * `KV` on the Storage that `storage` builds, built inside the supervision tree as its `storage`
   * child: when a fiber that Storage started fails, the tree builds it again (see `Tree`).
   *
   * @since 0.2.0
   * @category layers
   */
  static layerFrom = <E, R>(storage: Layer.Layer<Storage.Storage, E, R>, options: KVOptions = {}): Layer.Layer<KV, E, R> =>
    Layer.scoped(KV, make(storage, options))

  /**
   * `KV` on whatever `Storage` is provided. The tree's `storage` child holds it as it is: it was
   * built, and is released, outside the tree.
   *
   * @since 0.1.0
   * @category layers
   */
  static layerWith = (options: KVOptions = {}): Layer.Layer<KV, never, Storage.Storage> =>
    Layer.scoped(KV, Effect.flatMap(Storage.Storage, (storage) => make(Layer.succeed(Storage.Storage, storage), options)))

  /**
   * `KV` on disk, in `options.dataDir`, on Node's file system: see `Storage.FileOptions` for the
   * sync policy, writers and compaction. Fails with `DataDirLocked` if another process holds it.
   * The file storage is the tree's `storage` child: should one of its writers fail, it is built
   * again and the stores reopen their logs.
   *
   * @since 0.1.0
   * @category layers
   */
  static layer = (options: KVOptions & Storage.FileOptions): Layer.Layer<KV, StorageFailure> =>
    KV.layerFrom(Storage.layerFile(options).pipe(Layer.provide(NodeFileSystem.layer)), options)

  /**
   * `KV` kept in memory: for tests and caches. Nothing survives the process.
   *
   * @since 0.1.0
   * @category layers
   */
  static layerMemory = (options: KVOptions = {}): Layer.Layer<KV> =>
    KV.layerWith(options).pipe(Layer.provide(Storage.layerMemory))
}
