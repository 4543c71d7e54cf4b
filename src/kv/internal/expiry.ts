/**
 * Expiry: the rule every read applies (an entry past its deadline is absent), the deadlines of a
 * store's keys in a min-heap, and the one timer that wakes the store at the earliest of them.
 *
 * The heap deletes lazily: an item is valid while its key's entry still has that deadline, so a
 * put, touch or delete costs nothing here and stale items are dropped when they reach the top
 * (or when the heap is rebuilt, once it holds more than twice as many items as the store keys).
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Change, Entry } from "../../storage/Change.js"

/** Keys removed because their deadline passed, in every store. */
export const expiredKeys = Metric.counter("effect_kv_expired_keys", {
  description: "Keys removed because their expiry passed (each one an Expire change in its store's log)",
  incremental: true
})

/** Whether `entry` is past its deadline at `now`. */
export const isExpired = (entry: Entry, now: number): boolean => entry.expiresAt !== undefined && entry.expiresAt <= now

/**
 * `found`, or none if it is past its deadline. The clock is read only for an entry that has one,
 * so reads of keys without an expiry cost no clock read.
 */
export const live = (found: Option.Option<Entry>, clock: Clock.Clock): Option.Option<Entry> =>
  Option.isSome(found) && found.value.expiresAt !== undefined && found.value.expiresAt <= clock.unsafeCurrentTimeMillis()
    ? Option.none()
    : found

/**
 * How many entries are not past their deadline at `now`. `earliest` is a lower bound of the
 * entries' deadlines: while it is still ahead, no entry can be expired and the count is the
 * map's size, at no cost; otherwise (a deadline passed and its `Expire` is not yet written) a scan.
 */
export const liveSize = (entries: HashMap.HashMap<string, Entry>, earliest: number, now: number): number => {
  if (earliest > now) return HashMap.size(entries)
  let size = 0
  for (const entry of HashMap.values(entries)) if (!isExpired(entry, now)) size++
  return size
}

/** Each key with a deadline and the deadline it had when it was taken from the heap. */
export interface Due {
  readonly keys: ReadonlyArray<string>
  readonly deadlines: ReadonlyArray<number>
}

// What most batches take: nothing, and nothing allocated for it.
const noneDue: Due = { keys: [], deadlines: [] }

/** A min-heap of (deadline, key), in two arrays: no object per item, and the deadlines unboxed. */
export class Deadlines {
  private deadlines: Array<number> = []
  private keys: Array<string> = []

  /**
   * Builds the heap of `entries`' deadlines: a store's, as recovered from its log. With
   * `anyExpiry` false (none has one, as its storage knows) the entries are not walked.
   */
  static of(entries: HashMap.HashMap<string, Entry>, anyExpiry = true): Deadlines {
    const heap = new Deadlines()
    if (anyExpiry) heap.rebuild(entries)
    return heap
  }

  /** The earliest deadline held (maybe a stale one), or `Infinity`. */
  earliest(): number {
    return this.deadlines.length === 0 ? Infinity : this.deadlines[0]!
  }

  add(key: string, deadline: number): void {
    this.deadlines.push(deadline)
    this.keys.push(key)
    this.siftUp(this.deadlines.length - 1)
  }

  /**
   * Takes out the keys of `entries` whose deadline is at or before `now`, at most `max` of them,
   * earliest first; stale items met on the way are dropped.
   */
  takeDue(entries: HashMap.HashMap<string, Entry>, now: number, max: number): Due {
    if (this.earliest() > now) return noneDue
    const due = { keys: new Array<string>(), deadlines: new Array<number>() }
    while (due.keys.length < max && this.deadlines.length > 0 && this.deadlines[0]! <= now) {
      const deadline = this.deadlines[0]!
      const key = this.keys[0]!
      this.removeTop()
      const entry = HashMap.get(entries, key)
      if (Option.isSome(entry) && entry.value.expiresAt === deadline) {
        due.keys.push(key)
        due.deadlines.push(deadline)
      }
    }
    return due
  }

  /** Puts back what {@link takeDue} took, when the batch that was to expire them failed. */
  restore(due: Due): void {
    for (let i = 0; i < due.keys.length; i++) this.add(due.keys[i]!, due.deadlines[i]!)
  }

  /**
   * Adds the deadlines that `changes` set, once they are durable; then rebuilds the heap from
   * `entries` if stale items have come to outnumber the keys (amortised O(1) per change).
   */
  track(changes: ReadonlyArray<Change>, entries: HashMap.HashMap<string, Entry>): void {
    for (const change of changes) {
      if (change._tag === "Put" || change._tag === "Touch") {
        if (change.expiresAt !== undefined) this.add(change.key, change.expiresAt)
      } else if (change._tag === "Atomic") {
        for (const inner of change.changes) {
          if (inner._tag === "Put" && inner.expiresAt !== undefined) this.add(inner.key, inner.expiresAt)
        }
      }
    }
    if (this.deadlines.length > 2 * HashMap.size(entries) + 1024) this.rebuild(entries)
  }

  private rebuild(entries: HashMap.HashMap<string, Entry>): void {
    this.deadlines = []
    this.keys = []
    // forEach, not the iterator: it allocates no pair per entry (1.1 s of a 1M-key reopen's profile).
    HashMap.forEach(entries, (entry, key) => {
      if (entry.expiresAt === undefined) return
      this.deadlines.push(entry.expiresAt)
      this.keys.push(key)
    })
    for (let i = (this.deadlines.length >> 1) - 1; i >= 0; i--) this.siftDown(i)
  }

  private removeTop(): void {
    const lastDeadline = this.deadlines.pop()!
    const lastKey = this.keys.pop()!
    if (this.deadlines.length === 0) return
    this.deadlines[0] = lastDeadline
    this.keys[0] = lastKey
    this.siftDown(0)
  }

  private siftUp(at: number): void {
    const deadline = this.deadlines[at]!
    const key = this.keys[at]!
    while (at > 0) {
      const parent = (at - 1) >> 1
      if (this.deadlines[parent]! <= deadline) break
      this.deadlines[at] = this.deadlines[parent]!
      this.keys[at] = this.keys[parent]!
      at = parent
    }
    this.deadlines[at] = deadline
    this.keys[at] = key
  }

  private siftDown(at: number): void {
    const length = this.deadlines.length
    const deadline = this.deadlines[at]!
    const key = this.keys[at]!
    while (true) {
      let child = 2 * at + 1
      if (child >= length) break
      if (child + 1 < length && this.deadlines[child + 1]! < this.deadlines[child]!) child++
      if (this.deadlines[child]! >= deadline) break
      this.deadlines[at] = this.deadlines[child]!
      this.keys[at] = this.keys[child]!
      at = child
    }
    this.deadlines[at] = deadline
    this.keys[at] = key
  }
}

// A long wait is taken in steps: Effect's clock treats a sleep past setTimeout's limit (24.8 days)
// as forever, and a deadline is wall-clock time, which can jump while the timer sleeps; after a
// jump, the store's expiries (not its reads) are at most this late.
const longestSleep = Duration.minutes(1)

/** The store's one expiry timer. */
export interface Timer {
  /**
   * Makes sure the timer fires by `deadline` (`Infinity`: no need), replacing a later one; an
   * `Effect.void` when it already does, the common case. A deadline already passed (more keys
   * due than one batch takes) fires at once.
   */
  readonly wakeBy: (deadline: number) => Effect.Effect<void>
}

/**
 * A timer that sleeps on `clock` until the earliest deadline asked for, then runs `fire` (which
 * sends the store its expiry message). Its fiber lives in the current scope.
 */
export const timer = (clock: Clock.Clock, fire: Effect.Effect<void>): Effect.Effect<Timer, never, Scope.Scope> =>
  Effect.map(Effect.scope, (scope) => {
    // The deadline the fiber sleeps towards; Infinity when none sleeps.
    let wakeAt = Infinity
    let sleeper: Fiber.RuntimeFiber<void> | undefined

    const sleepUntil = (deadline: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const left = deadline - clock.unsafeCurrentTimeMillis()
        if (left <= 0) {
          wakeAt = Infinity
          return fire
        }
        return Effect.zipRight(clock.sleep(Duration.min(Duration.millis(left), longestSleep)), sleepUntil(deadline))
      })

    return {
      wakeBy: (deadline) => {
        if (deadline === Infinity) return Effect.void
        if (deadline <= clock.unsafeCurrentTimeMillis()) return fire
        if (deadline >= wakeAt) return Effect.void
        wakeAt = deadline
        const previous = sleeper
        // Interruptible: the store forks it from its batch, which is not.
        return Effect.flatMap(Effect.forkIn(Effect.interruptible(sleepUntil(deadline)), scope), (fiber) => {
          sleeper = fiber
          return previous === undefined ? Effect.void : Fiber.interruptFork(previous)
        })
      }
    }
  })
