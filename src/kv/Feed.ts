/**
 * A store's change feed: the changes it acknowledged, the last of them kept for resuming, and the
 * watchers that follow them.
 *
 * - There is one feed per store name, not per running store: it outlives the store's incarnations
 *   (a restart after a crash, a close when idle and the reopen) as long as the store runs or is
 *   watched, so its watchers go on across them. A feed made anew is seeded from the last changes
 *   the store's log holds after its last compaction (`StoreLog.recent`).
 * - The store publishes each batch once, after it is durable and in the store's `Ref`, in the same
 *   synchronous step as the `Ref` is set; so the state and its version, read together, then a
 *   watch from that version, miss nothing and repeat nothing.
 * - The feed keeps its last changes in one ring of `max(history, buffer)` changes, and of at most
 *   `historyBytes` of keys and values (the oldest go first past either). A watcher is a
 *   cursor into that ring, not a queue of its own: publishing appends each change once and wakes
 *   the watchers waiting for one, whatever their number; each watcher reads, on its own fiber,
 *   what it has not read yet, filtered by its prefix (the watchers without one share one copy of
 *   it, made by the first to read). A watcher more than `buffer` changes behind what
 *   was published since it began (or whose next change has left the ring) fails with
 *   `WatchLagged` the next time it reads, while the writers and the other watchers go on.
 *
 * @since 0.2.0
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Atomic, type Change, type Delete, type Put, weight } from "../storage/Change.js"
import { HistoryCompacted, InvalidQuery, WatchLagged } from "./Errors.js"

/**
 * How much a feed holds.
 *
 * @since 0.2.0
 * @category models
 */
export interface FeedOptions {
  /** Changes kept per store for resuming (default 10,000). */
  readonly history?: number
  /** Changes a watcher may have unread before it fails with `WatchLagged` (default 10,000). */
  readonly buffer?: number
  /**
   * The most a store's held changes may weigh, in characters of their keys and values' JSON
   * (default 16 MiB): past it the oldest go, so that large values cannot hold the server's memory.
   */
  readonly historyBytes?: number
}

/**
 * The changes kept per store for resuming, unless `watchHistory` says otherwise.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultHistory = 10_000

/**
 * How much the changes a store holds may weigh, unless `watchHistoryBytes` says otherwise: 16 MiB
 * of keys and values' JSON.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultHistoryBytes = 16 * 1024 * 1024

/**
 * The changes a watcher may have unread, unless `watchBuffer` says otherwise.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultBuffer = 10_000

/**
 * What a watch asks for.
 *
 * @since 0.2.0
 * @category models
 */
export interface WatchOptions {
  /** Only changes to keys that start with this; a clear reaches every watcher. */
  readonly prefix?: string
  /** Replay every change after this version first; absent: only changes from now on. */
  readonly since?: number
}

/**
 * A watch that has begun: the stream of its changes, from the version `since`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Subscription {
  /** The version the changes start after: the `since` asked for, or the store's version then. */
  readonly since: number
  /**
   * Every change after `since`, in version order, each once: the replay, then live. Ends when
   * the store is dropped, the `KV` closes or the scope the watch began in closes.
   */
  readonly changes: Stream.Stream<Change, WatchLagged>
  /**
   * The same changes read without a `Stream`, in Effect's pull convention (what `Stream.toPull`
   * gives): each run takes every change published since the last (at least one, at most 1,024),
   * waiting for the store to publish if there is none; it fails with `Option.none()` when the
   * watch ends and with `Option.some(WatchLagged)` when it fell behind. `changes` and `pull` read
   * one cursor: a change taken by either is not seen by the other.
   *
   * A wake of a watcher costs a third of the CPU by `pull`, read in a loop that does not yield
   * between turns, than by `changes` (1.6–1.9 µs against 5.0–5.8 µs: the `Stream`'s channel
   * executor takes 2.1–2.6 µs a chunk): for a process that keeps many watchers on busy stores
   * (bench/watch.ts).
   */
  readonly pull: Effect.Effect<Chunk.Chunk<Change>, Option.Option<WatchLagged>>
}

/**
 * One store's feed, as its store publishes to it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Feed {
  readonly store: string
  /** The version of the last change published. */
  readonly version: number
  /** Publishes a batch of acknowledged changes, in version order; the array is kept, not copied. */
  readonly publish: (changes: ReadonlyArray<Change>) => void
}

/**
 * The feeds of every store name of one `KV`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Feeds {
  /** How many of its last changes a store should ask its log for, to seed a new feed. */
  readonly history: number
  /** How much those changes may weigh (`Change.weight`): a feed keeps no more. */
  readonly historyBytes: number
  /**
   * The feed of a store that starts, at `sequence`, with `recent` its log's last changes: the
   * running feed of that name if there is one, else a new one seeded from `recent`.
   */
  readonly attach: (store: string, sequence: number, recent: ReadonlyArray<Change>) => Feed
  /** The store that attached `feed` has stopped. */
  readonly detach: (feed: Feed) => void
  /** Begins a watch of `feed` in the scope; `None` if the feed was let go meanwhile (look the store up again). */
  readonly subscribe: (
    feed: Feed,
    options: WatchOptions
  ) => Effect.Effect<Option.Option<Subscription>, InvalidQuery | HistoryCompacted, Scope.Scope>
  /** Ends the watches of a store that is dropped: their streams complete, as do those begun on it later. */
  readonly end: (store: string) => void
  /** Ends every watch, and every watch begun from now on. */
  readonly endAll: () => void
  /** The watches open now, by store name: stores with none are left out. */
  readonly watchers: () => ReadonlyArray<readonly [store: string, watchers: number]>
}

// The most changes one read of a watcher copies out: a long replay goes in several.
const maxChunk = 1024

class Watcher {
  /** Resumes what waits for this watcher's next change: more than one if it is pulled by several fibers. */
  wake: (() => void) | undefined = undefined
  closed = false
  constructor(
    /** Index (in the feed's count of changes) of the next change to read. */
    public position: number,
    /** The feed's count when the watch began: what came before is history, not buffered. */
    readonly joined: number,
    /** The version of the last change read (delivered, or skipped as outside the prefix). */
    public lastVersion: number,
    readonly epoch: number,
    readonly prefix: string
  ) {}
}

class FeedImpl implements Feed {
  /**
   * Grows as changes come, up to `capacity`: a store's feed is made anew each time it starts
   * unwatched (a restart after a crash among them), and a ring of 10,000 slots made and cleared,
   * then filled change by change, was a tenth of a restart's CPU.
   */
  ring: Array<Change | undefined> = []
  /** How many changes were ever put in the ring: the index of the next one. */
  head = 0
  /** The index of the oldest change held. */
  tail = 0
  /** The lowest `since` that can be served: every change after it is held. */
  floor = 0
  /** The weight of the changes held (`Change.weight`). */
  bytes = 0
  version = 0
  /** Bumped when the feed is seeded again: watchers of the earlier history have lost their place. */
  epoch = 0
  ended = false
  /** Let go of: no store runs under it and nobody watches it. */
  retired = false
  running = 0
  watchers = 0
  readonly waiting = new Set<Watcher>()
  /**
   * The last chunk a watcher without a prefix read, indices `start` to `end` of the ring: the
   * watchers that keep up read the same changes, and share one chunk of them.
   */
  shared: { readonly start: number; readonly end: number; readonly chunk: Chunk.Chunk<Change> } | undefined = undefined

  constructor(
    readonly store: string,
    readonly capacity: number,
    readonly maxBytes: number,
    readonly buffer: number,
    sequence: number,
    recent: ReadonlyArray<Change>
  ) {
    this.seed(sequence, recent)
  }

  seed(sequence: number, recent: ReadonlyArray<Change>) {
    this.shared = undefined
    this.tail = this.head
    this.bytes = 0
    // Versions are consecutive: each change takes the store's next sequence number.
    this.floor = recent.length > 0 ? recent[0]!.version - 1 : sequence
    if (this.head % this.capacity === 0 && recent.length <= this.capacity) {
      // A new feed (each restart of an unwatched store makes one) takes its history in one copy.
      this.ring = recent.slice()
      this.head += recent.length
      for (const change of recent) this.bytes += weight(change)
      while (this.bytes > this.maxBytes && this.head - this.tail > 1) this.dropOldest()
    } else {
      // Sized at once: append writes at head % capacity, and an empty array written far past its
      // end would fall back to V8's slow dictionary elements.
      this.ring = new Array(this.capacity)
      this.append(recent)
    }
    this.version = sequence
  }

  /** Puts changes in the ring, letting go of the oldest past its count or its bytes (never the newest). */
  append(changes: ReadonlyArray<Change>) {
    const capacity = this.capacity
    for (const change of changes) {
      if (this.head - this.tail === capacity) this.dropOldest()
      this.ring[this.head++ % capacity] = change
      this.bytes += weight(change)
      while (this.bytes > this.maxBytes && this.head - this.tail > 1) this.dropOldest()
    }
  }

  dropOldest() {
    const at = this.tail++ % this.capacity
    const oldest = this.ring[at]!
    this.ring[at] = undefined
    this.floor = oldest.version
    this.bytes -= weight(oldest)
  }

  publish(changes: ReadonlyArray<Change>) {
    if (changes.length === 0 || this.ended) return
    this.append(changes)
    this.version = changes[changes.length - 1]!.version
    this.wakeAll()
  }

  wakeAll() {
    if (this.waiting.size === 0) return
    for (const watcher of this.waiting) {
      const wake = watcher.wake
      watcher.wake = undefined
      wake?.()
    }
    this.waiting.clear()
  }

  end() {
    this.ended = true
    this.wakeAll()
  }

  /** The index of the first change held after version `since`. */
  indexAfter(since: number): number {
    let low = this.tail
    let high = this.head
    while (low < high) {
      const middle = Math.floor((low + high) / 2)
      if (this.ring[middle % this.capacity]!.version <= since) low = middle + 1
      else high = middle
    }
    return low
  }

  hasNews(watcher: Watcher): boolean {
    return this.ended || watcher.closed || watcher.epoch !== this.epoch || watcher.position !== this.head
  }

  /** The changes from index `start` to `end`, copied out of the ring at once. */
  slice(start: number, end: number): Array<Change> {
    const from = start % this.capacity
    const to = from + end - start
    return to <= this.capacity
      ? this.ring.slice(from, to) as Array<Change>
      : (this.ring.slice(from) as Array<Change>).concat(this.ring.slice(0, to - this.capacity) as Array<Change>)
  }

  matching(start: number, end: number, prefix: string): Array<Change> {
    const out: Array<Change> = []
    for (let i = start; i < end; i++) {
      const change = matching(this.ring[i % this.capacity]!, prefix)
      if (change !== undefined) out.push(change)
    }
    return out
  }

  /** What a watcher reads next: a chunk, the end, its lag, or `wait` for the store to publish. */
  read(watcher: Watcher): Chunk.Chunk<Change> | WatchLagged | typeof end | typeof wait {
    while (true) {
      if (this.ended || watcher.closed) return end
      if (
        watcher.epoch !== this.epoch || watcher.position < this.tail ||
        this.head - Math.max(watcher.position, watcher.joined) > this.buffer
      ) {
        return new WatchLagged({ store: this.store, lastVersion: watcher.lastVersion })
      }
      const start = watcher.position
      if (start === this.head) return wait
      const stop = Math.min(this.head, start + maxChunk)
      watcher.lastVersion = this.ring[(stop - 1) % this.capacity]!.version
      watcher.position = stop
      if (watcher.prefix !== "") {
        const out = this.matching(start, stop, watcher.prefix)
        if (out.length > 0) return Chunk.unsafeFromArray(out)
      } else {
        const shared = this.shared
        if (shared !== undefined && shared.start === start && shared.end === stop) return shared.chunk
        const chunk = Chunk.unsafeFromArray(this.slice(start, stop))
        this.shared = { start, end: stop, chunk }
        return chunk
      }
    }
  }
}

const end = "end" as const
const wait = "wait" as const

const inPrefix = (prefix: string) => (change: Put | Delete) => change.key.startsWith(prefix)

/** `change` as a watcher of `prefix` sees it: an atomic write with only its matching changes. */
const matching = (change: Change, prefix: string): Change | undefined => {
  if (prefix === "") return change
  switch (change._tag) {
    case "Clear":
      return change
    case "Atomic": {
      const changes = change.changes.filter(inPrefix(prefix))
      if (changes.length === change.changes.length) return change
      return changes.length === 0 ? undefined : { _tag: "Atomic", version: change.version, changes } satisfies Atomic
    }
    default:
      return change.key.startsWith(prefix) ? change : undefined
  }
}

/**
 * Registers `resume` to run at the store's next publish (or at once if it published since the
 * last read). It registers no canceler: `Effect.async` wraps one in `onInterrupt`, 2.9 KB a wake.
 * An interrupted watcher's `wake` then resumes nothing (Effect ignores a second resume), and the
 * watcher leaves `waiting` at the next publish or when its scope closes.
 */
const onNews = (feed: FeedImpl, watcher: Watcher, resume: () => void) => {
  if (feed.hasNews(watcher)) return resume()
  const waiting = watcher.wake
  watcher.wake = waiting === undefined ? resume : () => {
    waiting()
    resume()
  }
  feed.waiting.add(watcher)
}

// The watcher's changes, read on its own fiber: each read takes what the store published since
// the last, or waits for it. With 100 watchers every publish wakes 100 fibers, so what a wake
// costs is what the writers pay for (bench/watch.ts). Measured per wake of 100 watchers of one
// feed, each read by `Stream.runForEachChunk`: a channel of its own allocates 7.6 KB a wake,
// Stream.repeatEffectChunkOption 11.7 KB; most of the rest is the channel executor's steps,
// between the consumer's sink and this loop (the reason `pull` exists: 2.5 KB a wake,
// read in a loop that does not yield; 4.2 KB in `Effect.forever`).
const changesOf = (feed: FeedImpl, watcher: Watcher): Stream.Stream<Change, WatchLagged> => {
  const waitForNews = Effect.async<void>((resume) => onNews(feed, watcher, () => resume(Effect.void)))
  const loop: Channel.Channel<Chunk.Chunk<Change>, unknown, WatchLagged, unknown, void, unknown> = Channel.suspend(
    () => {
      const next = feed.read(watcher)
      return next === wait
        ? waitThenLoop
        : next === end
        ? Channel.void
        : Chunk.isChunk(next)
        ? Channel.zipRight(Channel.write(next), loop)
        : Channel.fail(next)
    }
  )
  const waitThenLoop = Channel.zipRight(Channel.fromEffect(waitForNews), loop)
  return Stream.fromChannel(loop)
}

const endOfFeed = Effect.fail(Option.none())

// The same reads as one effect: a wait resumes the fiber with the next read itself.
const pullOf = (feed: FeedImpl, watcher: Watcher): Effect.Effect<Chunk.Chunk<Change>, Option.Option<WatchLagged>> => {
  const pull: Effect.Effect<Chunk.Chunk<Change>, Option.Option<WatchLagged>> = Effect.suspend(() => {
    const next = feed.read(watcher)
    return next === wait
      ? waitThenPull
      : next === end
      ? endOfFeed
      : Chunk.isChunk(next)
      ? Effect.succeed(next)
      : Effect.fail(Option.some(next))
  })
  const waitThenPull = Effect.async<Chunk.Chunk<Change>, Option.Option<WatchLagged>>((resume) =>
    onNews(feed, watcher, () => resume(pull))
  )
  return pull
}

/**
 * The feeds of one `KV`: see the module for what they do.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeFeeds = (options: FeedOptions = {}): Feeds => {
  const history = options.history ?? defaultHistory
  const buffer = options.buffer ?? defaultBuffer
  const capacity = Math.max(history, buffer, 1)
  const historyBytes = options.historyBytes ?? defaultHistoryBytes
  const feeds = new Map<string, FeedImpl>()
  let closed = false

  const letGoIfUnused = (feed: FeedImpl) => {
    if (feed.running > 0 || feed.watchers > 0) return
    feed.retired = true
    if (feeds.get(feed.store) === feed) feeds.delete(feed.store)
  }

  const attach = (store: string, sequence: number, recent: ReadonlyArray<Change>): Feed => {
    let feed = feeds.get(store)
    if (feed === undefined) {
      feed = new FeedImpl(store, capacity, historyBytes, buffer, sequence, recent)
      if (closed) feed.ended = true
      feeds.set(store, feed)
    } else if (feed.version !== sequence) {
      // The log does not end where the feed does (changes lost, or never published): what the
      // watchers were following is not what the store holds. They lose their place, and resume
      // from the log's history, or learn that it is gone.
      feed.epoch++
      feed.seed(sequence, recent)
      feed.wakeAll()
    }
    feed.running++
    return feed
  }

  const subscribe = (given: Feed, watch: WatchOptions) =>
    Effect.acquireRelease(
      Effect.suspend((): Effect.Effect<Option.Option<readonly [FeedImpl, Watcher]>, InvalidQuery | HistoryCompacted> => {
        const feed = given as FeedImpl
        if (feed.retired) return Effect.succeed(Option.none())
        const since = watch.since
        if (since !== undefined) {
          if (!Number.isSafeInteger(since) || since < 0) {
            return Effect.fail(new InvalidQuery({ reason: `since must be a version, a whole number from 0, not ${since}` }))
          }
          if (since > feed.version) {
            return Effect.fail(
              new InvalidQuery({
                reason: `since ${since} is above the version of store "${feed.store}", ${feed.version}; ` +
                  `watch from at most ${feed.version}`
              })
            )
          }
          if (since < feed.floor) {
            return Effect.fail(new HistoryCompacted({ store: feed.store, since, oldest: feed.floor }))
          }
        }
        // One synchronous step: the replay's start and the live registration are the same cursor.
        const position = since === undefined ? feed.head : feed.indexAfter(since)
        const watcher = new Watcher(position, feed.head, since ?? feed.version, feed.epoch, watch.prefix ?? "")
        feed.watchers++
        return Effect.succeed(Option.some([feed, watcher] as const))
      }),
      (taken) =>
        Effect.sync(() => {
          if (Option.isNone(taken)) return
          const [feed, watcher] = taken.value
          watcher.closed = true
          feed.waiting.delete(watcher)
          feed.watchers--
          letGoIfUnused(feed)
        })
    ).pipe(Effect.map(Option.map(([feed, watcher]): Subscription => ({
      since: watcher.lastVersion,
      changes: changesOf(feed, watcher),
      pull: pullOf(feed, watcher)
    }))))

  return {
    history,
    historyBytes,
    attach,
    detach: (given) => {
      const feed = given as FeedImpl
      feed.running--
      letGoIfUnused(feed)
    },
    subscribe,
    end: (store) => {
      const feed = feeds.get(store)
      if (feed === undefined) return
      // A store made again under this name starts a feed of its own, from version 1.
      feeds.delete(store)
      feed.end()
    },
    endAll: () => {
      closed = true
      for (const feed of feeds.values()) feed.end()
    },
    watchers: () => {
      const open: Array<readonly [string, number]> = []
      for (const feed of feeds.values()) if (feed.watchers > 0) open.push([feed.store, feed.watchers])
      return open
    }
  }
}
