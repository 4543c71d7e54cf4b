/**
 * A store: one named key-value map, owned by a server fiber.
 *
 * Writes are calls to the store's server, which takes every write waiting in its mailbox at
 * once, checks each against the current state (compare-and-set), appends the resulting changes
 * to the store's log as one batch, and only then publishes the new state in its `Ref` and
 * answers the callers. Reads do not queue: they read the `Ref`, so a read that starts after a
 * write was acknowledged sees it. The batch's changes go to the store's `Feed` in the same
 * synchronous step as the `Ref` is set, so watchers see exactly what readers see.
 *
 * Keys may carry a deadline (`expiresAt`). A batch first expires the keys whose deadline has
 * passed (an `Expire` change each, at most 10,000 a batch), so its writes find them absent; one
 * timer per store wakes it at the earliest deadline to do so when no write comes. Reads treat a
 * key past its deadline as absent before its `Expire` is written.
 *
 * If the log fails (a full disk, an I/O error), the writes of that batch fail with the storage
 * error and nothing of them is applied: the log has cut them back out. The store does not crash:
 * it keeps serving reads from its acknowledged state and answers every write that would change
 * something with that error at once, while a fiber of the store probes the log with backoff; once
 * the disk takes writes again, so does the store, by itself (and expires what fell due meanwhile).
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Server from "../otp/Server.js"
import { applyChange, type Change, type Entry } from "../storage/Change.js"
import type { StorageFailure } from "../storage/Errors.js"
import { Storage, type StoreLog } from "../storage/Storage.js"
import { AtomicCheckFailed, InvalidQuery, NotANumber, VersionMismatch } from "./Errors.js"
import * as Feed from "./Feed.js"
import * as Atomic from "./internal/atomic.js"
import * as Expiry from "./internal/expiry.js"
import * as Index from "./internal/keyIndex.js"
import * as Probe from "./internal/probe.js"

/**
 * A write as the store's server receives it. `expected` is a compare-and-set condition:
 * `undefined` writes unconditionally, `null` only if the key is absent, a number only if the
 * key's version is that number. A put's `unless` refuses it if the key is at that version. A
 * `ttl` is in whole milliseconds from the batch's clock reading; a put without one (nor an
 * `expiresAt`) clears the key's expiry, a touch without one removes it.
 *
 * @since 0.1.0
 * @category models
 */
export type Write =
  | {
    readonly _tag: "Put"
    readonly key: string
    readonly value: unknown
    readonly json: string
    readonly expected: number | null | undefined
    readonly unless: number | undefined
    /** @since 0.2.0 */
    readonly ttl: number | undefined
    /** An absolute deadline (epoch milliseconds) in place of a `ttl`. @since 0.2.0 */
    readonly expiresAt: number | undefined
  }
  | { readonly _tag: "Delete"; readonly key: string; readonly expected: number | undefined }
  | { readonly _tag: "Clear" }
  | {
    readonly _tag: "Touch"
    readonly key: string
    readonly ttl: number | undefined
    readonly expected: number | undefined
  }
  | { readonly _tag: "Atomic"; readonly checks: ReadonlyArray<AtomicCheck>; readonly operations: ReadonlyArray<AtomicOperation> }

/**
 * A check of an atomic write: the key is at `version`, or absent (`null`).
 *
 * @since 0.2.0
 * @category models
 */
export interface AtomicCheck {
  readonly key: string
  readonly version: number | null
}

/**
 * An operation of an atomic write as the store applies it: a put's value is already checked and
 * serialised, its `ttl` in whole milliseconds; an increment's `by` is a finite number.
 *
 * @since 0.2.0
 * @category models
 */
export type AtomicOperation =
  | { readonly op: "put"; readonly key: string; readonly value: unknown; readonly json: string; readonly ttl: number | undefined }
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "increment"; readonly key: string; readonly by: number }

/**
 * Why a write failed inside the store.
 *
 * @since 0.1.0
 * @category errors
 */
export type WriteError = VersionMismatch | AtomicCheckFailed | NotANumber | StorageFailure

/**
 * What the store's server takes besides writes: the timer's word that a deadline has passed.
 *
 * @since 0.2.0
 * @category models
 */
export interface ExpireDue {
  readonly _tag: "ExpireDue"
}

/**
 * A running store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly name: string
  /**
   * The server that applies writes. Its reply is a number: a put's new version; for a delete,
   * the version of the delete or 0 if the key was absent; for a clear, the count of keys removed;
   * for a touch, the key's new version (its version as it is when nothing changes), 0 if absent;
   * for an atomic write, its version (the store's version as it is when it changes nothing).
   */
  readonly server: Server.Server<Write, number, WriteError, ExpireDue>
  /** The acknowledged state; only the server writes it. Entries past their deadline are absent to readers. */
  readonly entries: Ref.Ref<HashMap.HashMap<string, Entry>>
  /**
   * What `entries` holds, read at once, with no effect: for the read path, which reads one key.
   *
   * @since 0.2.0
   */
  readonly current: () => HashMap.HashMap<string, Entry>
  /**
   * The version of the state in `entries` (of the store's last change), set in the same step as
   * it: read both at once (`Ref.modify`) for a state and its version that agree.
   *
   * @since 0.2.0
   */
  readonly version: () => number
  /**
   * The feed the store publishes its changes to.
   *
   * @since 0.2.0
   */
  readonly feed: Feed.Feed
  /** Rewrites the store's log as a snapshot of its acknowledged state (compaction on demand). */
  readonly compact: Effect.Effect<void, StorageFailure>
  /**
   * A lower bound of the deadlines in `entries` (`Infinity` if none has one): while it is ahead
   * of the clock, no entry is past its deadline.
   *
   * @since 0.2.0
   */
  readonly earliestExpiry: () => number
  /**
   * The keys of `entries` in order, for paging in O(log n + page): pass the state just read from
   * `entries`, in the same synchronous step. Built on first use (a sort of every key), then kept in
   * step by the store in the step that sets `entries`.
   *
   * @since 0.2.0
   */
  readonly keyIndex: (entries: HashMap.HashMap<string, Entry>) => KeyIndex
}

/**
 * A store's keys in order (see {@link Store.keyIndex}).
 *
 * @since 0.2.0
 * @category models
 */
export type KeyIndex = Index.KeyIndex

/**
 * Options of {@link start}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** Mailbox size: writes waiting past it fail with `Overloaded` (default 10,000). */
  readonly capacity?: number
  /** The most writes committed as one batch (default 1,000). */
  readonly maxBatch?: number
  /**
   * Whether a batch runs in the `kv.batch` span under its callers' spans (default true).
   *
   * @since 0.2.0
   */
  readonly tracing?: boolean
  /**
   * The clock of deadlines and of the expiry timer (default: the one in context when the store
   * starts). `KV` passes the one it captured, so that stores and reads agree.
   *
   * @since 0.2.0
   */
  readonly clock?: Clock.Clock
  /**
   * The feeds the store publishes to, shared by its incarnations; without them the store's feed is
   * its own and keeps no history.
   *
   * @since 0.2.0
   */
  readonly feeds?: Feed.Feeds
  /**
   * Watches the store's call timeouts with these, shared by its incarnations and other stores
   * (default: a fiber of its own, started at its first call); `Stores` passes its own.
   *
   * @since 0.2.0
   */
  readonly callTimeouts?: Server.CallTimeouts
}

/**
 * Counts the keys removed because their deadline passed, in every store: each one an `Expire`
 * change in its store's log.
 *
 * @since 0.2.0
 * @category metrics
 */
export const expiredKeys: Metric.Metric.Counter<number> = Expiry.expiredKeys

/**
 * Whether `entry` is past its deadline at `now` (epoch milliseconds): then it is absent to every
 * read, even before its store has written its `Expire`.
 *
 * @since 0.2.0
 * @category getters
 */
export const isExpired: (entry: Entry, now: number) => boolean = Expiry.isExpired

interface State {
  readonly log: StoreLog
  readonly entries: HashMap.HashMap<string, Entry>
  readonly sequence: number
  /** Set while the log refuses writes: the store refuses them too until its probe sees it recover. */
  readonly degraded: Probe.Degraded | undefined
}

/** What a store's server works with besides its state: all owned by its fiber. */
interface Owned {
  readonly name: string
  readonly ref: Ref.Ref<HashMap.HashMap<string, Entry>>
  readonly clock: Clock.Clock
  readonly deadlines: Expiry.Deadlines
  readonly timer: Expiry.Timer
  /** Wakes the store to expire what is due: after its log recovers, as the timer would have. */
  readonly fire: Effect.Effect<void>
  /** The store's scope: its probe runs there. */
  readonly scope: Scope.Scope
  /** Where each committed batch's changes go, in the step that sets `ref`. */
  readonly feed: Feed.Feed
  /** What `ref` holds, set in the same step. */
  current: HashMap.HashMap<string, Entry>
  /** The version of the entries in `ref`. */
  version: number
  /** A lower bound of the deadlines of the entries in `ref`. */
  earliest: number
  /** The sorted keys of `indexed`, once a page asked for them; the store keeps them in step with `ref`. */
  index: Index.KeyIndex | undefined
  indexed: HashMap.HashMap<string, Entry> | undefined
}

// Expiring more keys than this in one batch would hold back the writes waiting behind it.
const maxExpiriesPerBatch = 10_000

const expireDue: ExpireDue = { _tag: "ExpireDue" }

/**
 * Opens the store's log from `Storage`, recovers its state, and starts its server in the scope.
 * Keys recovered past their deadline are expired at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  name: string,
  options: StoreOptions = {}
): Effect.Effect<Store, StorageFailure, Storage | Scope.Scope> =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const clock = options.clock ?? (yield* Effect.clock)
    const feeds = options.feeds ?? Feed.makeFeeds({ history: 0, buffer: 1 })
    const log = yield* storage.open(name, { history: feeds.history, historyBytes: feeds.historyBytes })
    const ref = yield* Ref.make(log.recovered.entries)
    const feed = yield* Effect.acquireRelease(
      Effect.sync(() => feeds.attach(name, log.recovered.sequence, log.recent)),
      (feed) => Effect.sync(() => feeds.detach(feed))
    )
    let server: Server.Server<Write, number, WriteError, ExpireDue> | undefined
    // Overloaded or stopped: the writes in the mailbox expire the due keys as they commit.
    const fire = Effect.suspend(() => server === undefined ? Effect.void : Effect.ignore(server.cast(expireDue)))
    const deadlines = Expiry.Deadlines.of(log.recovered.entries, log.anyExpiry ?? true)
    const owned: Owned = {
      name,
      ref,
      clock,
      deadlines,
      timer: yield* Expiry.timer(clock, fire),
      fire,
      scope: yield* Effect.scope,
      feed,
      current: log.recovered.entries,
      version: log.recovered.sequence,
      earliest: deadlines.earliest(),
      index: undefined,
      indexed: undefined
    }
    server = yield* Server.start<State, Write, number, WriteError, ExpireDue>({
      init: Effect.succeed({
        log,
        entries: log.recovered.entries,
        sequence: log.recovered.sequence,
        degraded: undefined
      }),
      handleCalls: (writes, state) => commit(owned, writes, state),
      handleCast: (_, state) => Effect.map(commit(owned, [], state), ([, next]) => next)
    }, {
      name: `store:${name}`,
      spanName: "kv.batch",
      traceCalls: options.tracing ?? true,
      capacity: options.capacity ?? 10_000,
      maxBatch: options.maxBatch ?? 1000,
      ...(options.callTimeouts === undefined ? {} : { callTimeouts: options.callTimeouts })
    }).pipe(Effect.orDie) // init cannot fail: the log is already open
    yield* owned.timer.wakeBy(deadlines.earliest())
    return {
      name,
      server,
      entries: ref,
      current: () => owned.current,
      version: () => owned.version,
      feed,
      compact: log.compact,
      earliestExpiry: () => owned.earliest,
      keyIndex: (entries) => {
        // Built for the state the caller read; kept only if it is the one the store will update.
        if (owned.indexed !== entries || owned.index === undefined) {
          owned.index = Index.fromEntries(entries)
          owned.indexed = entries
        }
        return owned.index
      }
    }
  })

/**
 * Applies a batch of writes: expire the keys that are due, check each write, append the changes
 * as one batch, then publish.
 */
const commit = (
  owned: Owned,
  writes: ReadonlyArray<Write>,
  state: State
) =>
  Effect.gen(function*() {
    const store = owned.name
    // One clock reading per batch: its deadlines and its expiries agree.
    const now = owned.clock.unsafeCurrentTimeMillis()
    let entries = HashMap.beginMutation(state.entries)
    let sequence = state.sequence
    const changes: Array<Change> = []
    const exits: Array<Exit.Exit<number, WriteError>> = []
    const apply = (change: Change) => {
      entries = applyChange(entries, change)
      changes.push(change)
    }
    // Apply `change` and answer its write with `reply` once the batch is durable.
    const record = (change: Change, reply: number) => {
      apply(change)
      exits.push(Exit.succeed(reply))
    }
    const due = owned.deadlines.takeDue(entries, now, maxExpiriesPerBatch)
    for (const key of due.keys) apply({ _tag: "Expire", key, version: ++sequence })
    const deadline = (ttl: number | undefined) => ttl === undefined ? undefined : now + ttl
    for (const write of writes) {
      if (write._tag === "Clear") {
        const size = Expiry.liveSize(entries, owned.deadlines.earliest(), now)
        if (size === 0) exits.push(Exit.succeed(0))
        else record({ _tag: "Clear", version: ++sequence }, size)
        continue
      }
      if (write._tag === "Atomic") {
        const outcome = Atomic.apply(entries, write.checks, write.operations, sequence + 1, now)
        if (outcome._tag === "CheckFailed") exits.push(Exit.fail(new AtomicCheckFailed({ store, failed: outcome.failed })))
        else if (outcome._tag === "NotANumber") {
          exits.push(Exit.fail(new NotANumber({ store, key: outcome.key, reason: outcome.reason })))
        } else if (outcome.changes.length === 0) exits.push(Exit.succeed(sequence))
        else record({ _tag: "Atomic", version: ++sequence, changes: outcome.changes }, sequence)
        continue
      }
      const found = HashMap.get(entries, write.key)
      // A key past its deadline whose expiry this batch could not take yet is absent all the same.
      const current = Option.isSome(found) && !Expiry.isExpired(found.value, now) ? found.value : undefined
      const actual = current === undefined ? null : current.version
      if (write.expected !== undefined && write.expected !== actual) {
        exits.push(Exit.fail(new VersionMismatch({ store, key: write.key, expected: write.expected, actual })))
      } else if (write._tag === "Put" && write.unless !== undefined && write.unless === actual) {
        exits.push(Exit.fail(new VersionMismatch({ store, key: write.key, expected: null, actual, unlessVersion: actual })))
      } else if (write._tag === "Put") {
        const version = ++sequence
        record({
          _tag: "Put",
          key: write.key,
          value: write.value,
          json: write.json,
          version,
          expiresAt: write.expiresAt ?? deadline(write.ttl)
        }, version)
      } else if (current === undefined) {
        exits.push(Exit.succeed(0))
      } else if (write._tag === "Delete") {
        const version = ++sequence
        record({ _tag: "Delete", key: write.key, version }, version)
      } else if (write.ttl === undefined && current.expiresAt === undefined) {
        exits.push(Exit.succeed(current.version)) // nothing to remove
      } else {
        const version = ++sequence
        record({ _tag: "Touch", key: write.key, version, expiresAt: deadline(write.ttl) }, version)
      }
    }
    if (changes.length === 0) {
      yield* owned.timer.wakeBy(owned.deadlines.earliest())
      return [exits, state] as const
    }

    const after = { entries: HashMap.endMutation(entries), sequence }
    const degraded = state.degraded === undefined ? undefined : yield* Probe.current(state.degraded)
    const appended = degraded === undefined
      ? yield* Effect.either(state.log.append(changes, after))
      : Either.left(degraded.error)
    if (Either.isLeft(appended)) {
      // Nothing of the batch was applied: every write that changed something gets the error. The
      // due keys stay due; the timer is not rearmed (it would fire at once, again and again): the
      // probe wakes the store once the log has recovered.
      owned.deadlines.restore(due)
      const failed = Exit.fail(appended.left)
      const next = degraded ?? (yield* Probe.start(store, appended.left, state.log.recover, owned.scope, owned.fire))
      return [exits.map((exit) => Exit.isSuccess(exit) ? failed : exit), { ...state, degraded: next }] as const
    }
    owned.deadlines.track(changes, after.entries)
    // The state, its version, its earliest deadline and the feed change in one synchronous step
    // (no yield between): a reader sees all of them or none, and `entries` then `watch` from its
    // version misses nothing and repeats nothing.
    yield* Ref.update(owned.ref, () => {
      owned.current = after.entries
      owned.version = sequence
      owned.earliest = owned.deadlines.earliest()
      owned.feed.publish(changes)
      owned.index = owned.index !== undefined && owned.indexed === state.entries
        ? Index.applyChanges(owned.index, changes)
        : undefined
      owned.indexed = after.entries
      return after.entries
    })
    if (due.keys.length > 0) yield* Metric.incrementBy(Expiry.expiredKeys, due.keys.length)
    yield* owned.timer.wakeBy(owned.deadlines.earliest())
    return [exits, { ...state, entries: after.entries, sequence, degraded: undefined }] as const
  })

/**
 * Options of {@link keys}.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeysOptions {
  /** Only keys that start with this. */
  readonly prefix?: string
  /** Only keys after this one: the `next` of the previous page. */
  readonly after?: string
  /** Page size, 1 to 1,000 (default 100). */
  readonly limit?: number
}

/**
 * A page of keys, sorted; `next` is the cursor for the following page, if there is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyPage {
  readonly keys: ReadonlyArray<string>
  readonly next: Option.Option<string>
}

/**
 * The page size of `keys` when none is asked for.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPageSize = 100

/**
 * The largest page `keys` returns.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxPageSize = 1000

/**
 * One page of the keys of `entries`, in ascending order (by UTF-16 code units), leaving out the
 * keys past their deadline at `now` (epoch milliseconds; by default none is). `index` holds the
 * keys of `entries` in order (`Store.keyIndex`): a page costs O(log n + limit), plus one lookup per
 * key past its deadline that its store has not expired yet.
 *
 * @since 0.1.0
 * @category getters
 */
export const keyPage = (
  entries: HashMap.HashMap<string, Entry>,
  index: KeyIndex,
  options: KeysOptions = {},
  now = -Infinity
): Effect.Effect<KeyPage, InvalidQuery> => {
  const limit = options.limit ?? defaultPageSize
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
    return Effect.fail(new InvalidQuery({ reason: `limit must be a whole number from 1 to ${maxPageSize}, not ${limit}` }))
  }
  const prefix = options.prefix ?? ""
  const after = options.after
  // From the later of `prefix` (itself included) and `after` (excluded); one key more than the page tells whether a next exists.
  const fromAfter = after !== undefined && after >= prefix
  const keys: Array<string> = []
  let hasNext = false
  for (const key of Index.keysFrom(index, fromAfter ? after : prefix, fromAfter, Index.prefixEnd(prefix))) {
    if (now !== -Infinity && isExpired(Option.getOrThrow(HashMap.get(entries, key)), now)) continue
    if (keys.length === limit) {
      hasNext = true
      break
    }
    keys.push(key)
  }
  return Effect.succeed({ keys, next: hasNext ? Option.some(keys[keys.length - 1]!) : Option.none() })
}

/**
 * Every key of `index`, in order: linear in their number.
 *
 * @since 0.2.0
 * @category getters
 */
export const keysOf = (index: KeyIndex): Iterable<string> => ({ [Symbol.iterator]: () => Index.keysFrom(index, undefined, false) })
