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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Server from "../otp/Server.js"
import { CallTimeout, type Overloaded, ServerStopped } from "../otp/Server.js"
import type * as Supervisor from "../otp/Supervisor.js"
import type { Change, Entry } from "../storage/Change.js"
import type { StorageFailure } from "../storage/Errors.js"
import * as Storage from "../storage/Storage.js"
import {
  type AtomicCheckFailed,
  type AtomicTooLarge,
  type HistoryCompacted,
  type InvalidKey,
  type InvalidName,
  type InvalidQuery,
  type InvalidTtl,
  type InvalidValue,
  type NotANumber,
  OutcomeUnknown,
  type StoreFailed,
  type TooManyOperations,
  type ValueTooLarge,
  type VersionMismatch,
  type WatchLagged
} from "./Errors.js"
import * as Feed from "./Feed.js"
import * as Deadline from "./internal/deadline.js"
import * as Expiry from "./internal/expiry.js"
import {
  type AtomicWrite,
  checkAtomic,
  checkKey,
  checkName,
  checkExpiresAt,
  checkTtl,
  defaultLimits,
  encodeValue,
  keyProblem as keyProblemOf,
  type Limits
} from "./Limits.js"
import * as Store from "./Store.js"
import type * as Stores from "./Stores.js"
import * as Metrics from "./internal/metrics.js"
import * as Observe from "./internal/observe.js"
import * as Tree from "./Tree.js"

/**
 * A page of keys and what asks for one.
 *
 * @since 0.1.0
 */
export type { KeyPage, KeysOptions } from "./Store.js"

/**
 * An atomic write's checks and operations.
 *
 * @since 0.2.0
 */
export type { AtomicWrite } from "./Limits.js"

/**
 * A watch: its options, and the subscription that `subscribe` returns.
 *
 * @since 0.2.0
 */
export type { Subscription, WatchOptions } from "./Feed.js"

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
  /**
   * The key expires this long after the write (a positive duration); without it the key never
   * expires, even if it had an expiry before (as Redis `SET` does).
   *
   * @since 0.2.0
   */
  readonly ttl?: Duration.DurationInput
  /**
   * The key expires at this moment, in epoch milliseconds of Effect's `Clock` (as `getEntry`'s
   * `expiresAt`), in place of a `ttl` (Redis `SET ... PXAT`): a restore puts back the deadline it
   * read, exactly. One already past is taken, and the key is gone at once.
   *
   * @since 0.2.0
   */
  readonly expiresAt?: number
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
 * Conditions on `expire` and `persist`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ExpireOptions {
  /** Change the expiry only if the key's version is this one; else `VersionMismatch`. */
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
 * restart intensity (`StoreFailed`, until `restartStore`), the supervisor of the stores is being
 * restarted by the tree (`ServerStopped`: retry), or it was still starting when the call timeout
 * passed (`CallTimeout`, `taken: false`: retry; it goes on starting).
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreError = InvalidName | StorageFailure | StoreFailed | ServerStopped | CallTimeout

/**
 * Why a read failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadError = StoreError | InvalidKey

/**
 * Why the store did not take a write: overload, a stopped store and a call timeout. With
 * `taken: false` (as `KV` gives them: a taken one is `OutcomeUnknown`) nothing was applied, and
 * a retry is safe.
 *
 * @since 0.1.0
 * @category errors
 */
export type Unavailable = ServerStopped | CallTimeout | Overloaded

/**
 * Why a write failed. A write that failed with anything but `OutcomeUnknown` applied nothing
 * (`DiskFull` and `StorageError` included: the log cut its batch back out); one that failed with
 * `OutcomeUnknown` may have been applied: read before retrying.
 *
 * @since 0.1.0
 * @category errors
 */
export type WriteError =
  | ReadError
  | InvalidValue
  | ValueTooLarge
  | InvalidTtl
  | VersionMismatch
  | Unavailable
  | OutcomeUnknown

/**
 * Why `expire` or `persist` failed; only one that succeeded changed the key.
 *
 * @since 0.2.0
 * @category errors
 */
export type ExpireError = ReadError | InvalidTtl | VersionMismatch | Unavailable | OutcomeUnknown

/**
 * Why an atomic write failed; none of it was applied.
 *
 * @since 0.2.0
 * @category errors
 */
export type AtomicError =
  | ReadError
  | InvalidValue
  | ValueTooLarge
  | InvalidTtl
  | Unavailable
  | OutcomeUnknown
  | AtomicCheckFailed
  | NotANumber
  | TooManyOperations
  | AtomicTooLarge

/**
 * Why a watch could not begin: the store could not be reached, `since` is not a version of the
 * store (`InvalidQuery`), or the changes after it are no longer held (`HistoryCompacted`).
 *
 * @since 0.2.0
 * @category errors
 */
export type SubscribeError = StoreError | InvalidQuery | HistoryCompacted

/**
 * Why a watch failed: it could not begin, or it fell behind (`WatchLagged`: resume from its
 * `lastVersion`).
 *
 * @since 0.2.0
 * @category errors
 */
export type WatchError = SubscribeError | WatchLagged

/**
 * One entry of a page of `entries`.
 *
 * @since 0.2.0
 * @category models
 */
export interface KeyEntry {
  readonly key: string
  readonly value: unknown
  readonly version: number
  readonly expiresAt: number | undefined
}

/**
 * A page of entries, sorted by key, read at the store's version `version`: watch with
 * `since: version` to follow on from it without a gap.
 *
 * @since 0.2.0
 * @category models
 */
export interface EntryPage {
  readonly entries: ReadonlyArray<KeyEntry>
  readonly next: Option.Option<string>
  readonly version: number
}

/**
 * A whole store at one version: `entries` in key order, `size` of them.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreExport {
  readonly version: number
  readonly size: number
  readonly entries: Iterable<readonly [string, Entry]>
}

/**
 * The key-value store. Store names and keys are checked on every call; see `Limits`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KVService {
  /** Sets `key` to `value` in `store`, expiring after `ttl` if given; returns the key's new version. */
  readonly put: (store: string, key: string, value: unknown, options?: PutOptions) => Effect.Effect<number, WriteError>
  /** The value of `key`, if present. A key past its deadline is absent to every read. */
  readonly get: (store: string, key: string) => Effect.Effect<Option.Option<unknown>, ReadError>
  /** The value of `key` with its version and its deadline (`expiresAt`, epoch ms), if present. */
  readonly getEntry: (store: string, key: string) => Effect.Effect<Option.Option<Entry>, ReadError>
  /**
   * Sets, moves or extends `key`'s expiry to `ttl` from now, keeping its value (Redis `EXPIRE`);
   * the key's new version, or none if it is absent.
   *
   * @since 0.2.0
   */
  readonly expire: (
    store: string,
    key: string,
    ttl: Duration.DurationInput,
    options?: ExpireOptions
  ) => Effect.Effect<Option.Option<number>, ExpireError>
  /**
   * Removes `key`'s expiry, keeping its value (Redis `PERSIST`); the key's new version (its
   * version as it is if it had no expiry), or none if it is absent.
   *
   * @since 0.2.0
   */
  readonly persist: (store: string, key: string, options?: ExpireOptions) => Effect.Effect<Option.Option<number>, ExpireError>
  /**
   * Applies checks and operations to `store` as one write: all or nothing, also through a crash,
   * every operation at the same new version, which it returns (the store's version as it is if
   * nothing changed). Every failed check is named in `AtomicCheckFailed`. Operations: `put`
   * (with an optional `ttl`), `delete`, `increment` (`by` default 1; an absent key counts as 0;
   * the key keeps its expiry; `NotANumber` for a value that is not a number).
   *
   * @since 0.2.0
   */
  readonly atomic: (store: string, write: AtomicWrite) => Effect.Effect<number, AtomicError>
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
  readonly clear: (store: string) => Effect.Effect<number, StoreError | Unavailable | OutcomeUnknown>
  /** The names of the stores that hold data, sorted. */
  readonly stores: Effect.Effect<ReadonlyArray<string>, StorageFailure>
  /**
   * Stops `store` and deletes its data. Past the call timeout (a store that takes long to close)
   * it fails with `OutcomeUnknown` and goes on: the store is gone once `stores` no longer lists it.
   */
  readonly dropStore: (store: string) => Effect.Effect<void, StoreError | OutcomeUnknown>
  /**
   * Starts a store that failed with `StoreFailed` again, from its log. Past the call timeout it
   * fails with `OutcomeUnknown` and the store goes on starting.
   */
  readonly restartStore: (store: string) => Effect.Effect<void, StoreError | OutcomeUnknown>
  /**
   * The root of the supervision tree (see `Tree`): `startChild` adds a child after the stores,
   * as the HTTP server does, which then stops before them.
   */
  readonly supervisor: Supervisor.Supervisor
  /** Rewrites `store`'s log as a snapshot of its state, reclaiming the space of dead records. */
  readonly compact: (store: string) => Effect.Effect<void, StoreError>
  /**
   * One page of `store`'s entries with their values, sorted by key (as `keys` pages them), and
   * the store's version at which the page was read.
   *
   * @since 0.2.0
   */
  readonly entries: (store: string, options?: Store.KeysOptions) => Effect.Effect<EntryPage, StoreError | InvalidQuery>
  /**
   * Every entry of `store`, in key order, as of one version.
   *
   * @since 0.2.0
   */
  readonly exportStore: (store: string) => Effect.Effect<StoreExport, StoreError>
  /**
   * The acknowledged changes of `store` (those of keys with `prefix`, and every clear), in version
   * order, each once: with `since`, first every change after that version, then live. A watcher
   * that falls `watchBuffer` changes behind fails with `WatchLagged`; the stream completes when
   * the store is dropped or `KV` closes.
   *
   * @since 0.2.0
   */
  readonly watch: (store: string, options?: Feed.WatchOptions) => Stream.Stream<Change, WatchError>
  /**
   * `watch`, begun now in the scope: a watch that cannot begin fails here, before any change,
   * and the subscription says the version its changes start after. Closing the scope ends it.
   *
   * @since 0.2.0
   */
  readonly subscribe: (
    store: string,
    options?: Feed.WatchOptions
  ) => Effect.Effect<Feed.Subscription, SubscribeError, Scope.Scope>
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
  /**
   * The deadline of every operation on a store (default 5 seconds): whatever it waits for (the
   * store starting, restarting after a crash or closing, its mailbox, its batch being written),
   * it is answered within it. Past it a read fails with `CallTimeout`, a write with `CallTimeout`
   * if its store never took it (nothing applied) or `OutcomeUnknown` if it did; `dropStore` and
   * `restartStore` with `OutcomeUnknown`, and go on. `Duration.infinity` waits as long as it takes.
   */
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
   * Changes kept per store for watches that resume (`since`), default 10,000. After a restart of
   * the process, a store's history is what its log holds since its last compaction.
   *
   * @since 0.2.0
   */
  readonly watchHistory?: number
  /**
   * Changes a watcher may have unread before it fails with `WatchLagged`, default 10,000. A
   * store keeps `max(watchHistory, watchBuffer)` changes, whatever the number of watchers.
   *
   * @since 0.2.0
   */
  readonly watchBuffer?: number
  /**
   * The most the changes a store keeps may weigh, in characters of their keys and values' JSON,
   * default 16 MiB: past it the oldest go first (so a store of large values keeps fewer changes).
   * A watcher whose next change goes fails with `WatchLagged`.
   *
   * @since 0.2.0
   */
  readonly watchHistoryBytes?: number
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

/** What an operation does with its store, and the call options of the time it has left. */
type OnStore<A, E, R> = (running: Store.Store, callOptions: Server.CallOptions) => Effect.Effect<A, E, R>

/** Why a write that its store had taken got no answer, as its `OutcomeUnknown` says. */
const reasonOf = (error: CallTimeout | ServerStopped): string =>
  error._tag === "CallTimeout"
    ? `no answer within ${error.timeoutMillis} ms while its batch was being written`
    : `its store stopped while writing its batch (${error.reason})`

/**
 * A write's failure as its caller sees it: a `CallTimeout` or `ServerStopped` of a write that its
 * store had taken (`taken: true`) is `OutcomeUnknown`; one it had not stays as it is (retry is safe).
 */
const outcomeOf = (store: string) => <E>(error: E): E | OutcomeUnknown =>
  (error instanceof CallTimeout || error instanceof ServerStopped) && error.taken
    ? new OutcomeUnknown({ store, reason: reasonOf(error) })
    : error

const noExpiry = Either.right(undefined)

/**
 * A write of one key fails as the store's writes do, but never with the failures of an atomic
 * write: a type narrowing, at no cost on the hot path (a `catchTags` is an effect per write).
 */
const singleKey = <A, E>(write: Effect.Effect<A, E | AtomicCheckFailed | NotANumber>) =>
  write as Effect.Effect<A, Exclude<E, AtomicCheckFailed | NotANumber>>

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
    // One clock for every store and every read, so that they agree on what has expired.
    const clock = yield* Effect.clock
    const feeds = Feed.makeFeeds({
      ...(options.watchHistory === undefined ? {} : { history: options.watchHistory }),
      ...(options.watchBuffer === undefined ? {} : { buffer: options.watchBuffer }),
      ...(options.watchHistoryBytes === undefined ? {} : { historyBytes: options.watchHistoryBytes })
    })
    // Made before the tree, so closed after it: a wait for a store keeps its deadline while the
    // tree stops.
    const waits = yield* Deadline.makeWaits
    const tree = yield* Tree.make(storage, {
      clock,
      feeds,
      ...(options.mailboxCapacity === undefined ? {} : { capacity: options.mailboxCapacity }),
      ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
      ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
      ...(options.storeRestarts === undefined ? {} : { storeRestarts: options.storeRestarts }),
      ...(options.tracing === undefined ? {} : { tracing: options.tracing })
    })
    // Added after the tree, so run before it closes: watchers end at once, not after the stores.
    yield* Effect.addFinalizer(() => Effect.sync(feeds.endAll))
    const registry = tree.stores
    const timeoutMillis = Deadline.millisOf(options.callTimeout)
    const callOptions: Server.CallOptions = { timeout: Duration.millis(timeoutMillis) }
    const observer = Observe.make({ metrics: options.metrics ?? true, tracing: options.tracing ?? true })
    if (options.metrics ?? true) yield* Metrics.register(Metrics.readingOf(registry, feeds))

    // A store that runs is used at once, with no effect spent on finding it. One that is starting,
    // restarting or closing is waited for within the call timeout, and its call gets the time left.
    const useStore = <A, E, R>(
      store: string,
      running: Store.Store | undefined,
      use: OnStore<A, E, R>
    ): Effect.Effect<A, E | StoreError, R> =>
      running !== undefined
        ? use(running, callOptions)
        : waits.afterWait(store, timeoutMillis, registry.lookup(store), use)
    const onStore = <A, E, R>(store: string, use: OnStore<A, E, R>) => useStore(store, registry.find(store), use)
    // Name and key are checked at once, before the store is started, with no runtime operation
    // spent on them: every operation on a store goes through one of these.
    const withName = <A, E, R>(store: string, use: OnStore<A, E, R>) =>
      Effect.suspend(() => {
        const name = checkName(limits, store)
        return Either.isLeft(name) ? Effect.fail(name.left) : onStore(store, use)
      })
    const invalid = (store: string, key: string): InvalidName | InvalidKey | undefined => {
      const name = checkName(limits, store)
      if (Either.isLeft(name)) return name.left
      const checkedKey = checkKey(limits, key)
      return Either.isLeft(checkedKey) ? checkedKey.left : undefined
    }
    // A running store's name was checked when it started: only the key is left to check.
    const keyProblem = (key: string) => keyProblemOf(limits, key)
    const withKey = <A, E, R>(store: string, key: string, use: OnStore<A, E, R>) =>
      Effect.suspend((): Effect.Effect<A, E | ReadError, R> => {
        const running = registry.find(store)
        const error = running === undefined ? invalid(store, key) : keyProblem(key)
        return error !== undefined ? Effect.fail(error) : useStore(store, running, use)
      })
    // Observed inside the step a read takes anyway (see `internal/observe.ts`), and the key read
    // from the store's state at once: no effect of its own.
    const read = <A>(kind: string, f: (entry: Option.Option<Entry>) => A) =>
      observer.reader<Store.Store, A, ReadError>(
        kind,
        invalid,
        keyProblem,
        registry.find,
        (store, use) => onStore(store, use),
        (running, key) => f(Expiry.live(HashMap.get(running.current(), key), clock))
      )
    // A write to one key: a write its store took and did not answer is `OutcomeUnknown`.
    const write = (running: Store.Store, store: string, request: Store.Write, callOptions: Server.CallOptions) =>
      Effect.mapError(singleKey(running.server.call(request, callOptions)), outcomeOf(store))
    const touch = (store: string, key: string, ttl: number | undefined, expected: number | undefined) =>
      withKey(store, key, (running, callOptions) =>
        Effect.map(write(running, store, { _tag: "Touch", key, ttl, expected }, callOptions), (version) =>
          version === 0 ? Option.none() : Option.some(version)))
    // The operations on a store as a whole, which may wait for it to stop or start: within the
    // call timeout too, after which they go on, and their caller is told that the outcome is unknown.
    const scope = yield* Effect.scope
    const bounded = <A, E>(store: string, effect: Effect.Effect<A, E>, doing: string) =>
      Deadline.goesOn(effect, scope, timeoutMillis, () =>
        new OutcomeUnknown({ store, reason: `it is still ${doing} after ${timeoutMillis} ms` }))
    // The state, its version, its sorted keys and the clock in one synchronous step, so that they
    // agree; `now` is -Infinity while no entry can be past its deadline, so a page looks up no entry.
    const stateOf = (running: Store.Store) =>
      Ref.modify(running.entries, (entries) => {
        const now = clock.unsafeCurrentTimeMillis()
        const pageNow = running.earliestExpiry() > now ? -Infinity : now
        return [[entries, running.version(), running.keyIndex(entries), pageNow] as const, entries]
      })
    // The entries and their earliest deadline read in one step, as the store sets them.
    const liveSize = (running: Store.Store, entries: HashMap.HashMap<string, Entry>) =>
      Expiry.liveSize(entries, running.earliestExpiry(), clock.unsafeCurrentTimeMillis())
    const storeInfo = (store: string) =>
      withName(store, (running) =>
        Ref.modify(running.entries, (entries) => {
          const info: StoreInfo = { size: liveSize(running, entries), version: running.version() }
          return [info, entries] as const
        }))
    const subscribe = (
      store: string,
      watchOptions: Feed.WatchOptions = {}
    ): Effect.Effect<Feed.Subscription, SubscribeError, Scope.Scope> =>
      withName(store, (running) =>
        Effect.flatMap(feeds.subscribe(running.feed, watchOptions), (subscription) =>
          // The store closed between the lookup and now, and its feed with it: look it up again.
          Option.isSome(subscription) ? Effect.succeed(subscription.value) : subscribe(store, watchOptions)))

    const service: KVService = {
      // Plain combinators, not Effect.gen, on the hot path: a generator per put cost 5% of a write.
      put: (store, key, value, putOptions) =>
        withKey(store, key, (running, callOptions): Effect.Effect<number, WriteError> => {
          const json = encodeValue(limits, value)
          if (Either.isLeft(json)) return Effect.fail(json.left)
          const ttl = putOptions?.ttl === undefined ? noExpiry : checkTtl(putOptions.ttl)
          if (Either.isLeft(ttl)) return Effect.fail(ttl.left)
          const expiresAt = putOptions?.expiresAt === undefined
            ? noExpiry
            : checkExpiresAt(putOptions.expiresAt, putOptions.ttl !== undefined)
          if (Either.isLeft(expiresAt)) return Effect.fail(expiresAt.left)
          return write(running, store, {
            _tag: "Put",
            key,
            value,
            json: json.right,
            expected: putOptions?.ifAbsent ? null : putOptions?.expectedVersion,
            unless: putOptions?.unlessVersion,
            ttl: ttl.right,
            expiresAt: expiresAt.right
          }, callOptions)
        }),
      get: read("get", (found) => Option.isSome(found) ? Option.some(found.value.value) : Option.none()),
      getEntry: read("getEntry", identity),
      expire: (store, key, ttl, expireOptions) =>
        Effect.flatMap(checkTtl(ttl), (millis) => touch(store, key, millis, expireOptions?.expectedVersion)),
      persist: (store, key, expireOptions) => touch(store, key, undefined, expireOptions?.expectedVersion),
      atomic: (store, atomicWrite) =>
        Effect.flatMap(checkAtomic(limits, atomicWrite), (checked) =>
          withName(store, (running, callOptions) =>
            Effect.mapError(running.server.call({ _tag: "Atomic", ...checked }, callOptions), outcomeOf(store)))).pipe(
            // An atomic write's conditions are its checks, which fail as a whole.
            Effect.catchTag("VersionMismatch", Effect.die)
          ),
      has: read("has", Option.isSome),
      delete: (store, key, deleteOptions) =>
        withKey(store, key, (running, callOptions) =>
          Effect.map(
            write(running, store, { _tag: "Delete", key, expected: deleteOptions?.expectedVersion }, callOptions),
            (version) => version > 0
          )),
      keys: (store, keysOptions) =>
        withName(store, (running) =>
          Effect.flatMap(
            stateOf(running),
            ([entries, , index, now]) => Store.keyPage(entries, index, keysOptions, now)
          )),
      size: (store) => withName(store, (running) => Ref.modify(running.entries, (entries) => [liveSize(running, entries), entries])),
      storeInfo,
      clear: (store) =>
        withName(store, (running, callOptions) =>
          Effect.mapError(running.server.call({ _tag: "Clear" }, callOptions), outcomeOf(store))).pipe(
            // A clear compares no versions and makes no atomic write.
            Effect.catchTags({ VersionMismatch: Effect.die, AtomicCheckFailed: Effect.die, NotANumber: Effect.die })
          ),
      stores: Effect.flatMap(tree.storage, (storage) => storage.stores),
      dropStore: (store) =>
        Effect.flatMap(checkName(limits, store), (name) =>
          bounded(
            name,
            registry.drop(
              name,
              Effect.flatMap(tree.storage, (storage) => storage.drop(name)).pipe(
                Effect.zipRight(Effect.sync(() => feeds.end(name)))
              )
            ),
            "being stopped and dropped; list the stores to see when it is gone"
          )),
      restartStore: (store) =>
        Effect.flatMap(checkName(limits, store), (name) => bounded(name, registry.restart(name), "starting")),
      supervisor: tree.root,
      // The compaction itself takes as long as the store is large; only the wait for the store is bounded.
      compact: (store) => withName(store, (running) => running.compact),
      entries: (store, keysOptions) =>
        withName(store, (running) =>
          Effect.flatMap(stateOf(running), ([entries, version, index, now]) =>
            Effect.map(Store.keyPage(entries, index, keysOptions, now), (page) => ({
              entries: page.keys.map((key) => {
                const entry = Option.getOrThrow(HashMap.get(entries, key))
                return { key, value: entry.value, version: entry.version, expiresAt: entry.expiresAt }
              }),
              next: page.next,
              version
            })))),
      exportStore: (store) =>
        withName(store, (running) =>
          Ref.modify(running.entries, (entries) => {
            // One clock reading for the whole export, with the state, in one step: the store as of that moment.
            const now = clock.unsafeCurrentTimeMillis()
            const index = running.keyIndex(entries)
            // Walked in key order from the state as it was read, one entry at a time: linear, no copy.
            const inKeyOrder = function*() {
              for (const key of Store.keysOf(index)) {
                const entry = Option.getOrThrow(HashMap.get(entries, key))
                if (!Expiry.isExpired(entry, now)) yield [key, entry] as const
              }
            }
            const size = Expiry.liveSize(entries, running.earliestExpiry(), now)
            const exported: StoreExport = { version: running.version(), size, entries: { [Symbol.iterator]: inKeyOrder } }
            return [exported, entries]
          })),
      watch: (store, watchOptions) =>
        Stream.unwrapScoped(Effect.map(subscribe(store, watchOptions), (subscription) => subscription.changes)),
      subscribe
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
