/**
 * A server's mailbox: an Effect `Queue` (dropping when full) over a backing queue of our own, an
 * array, through the `Queue.make(backing, strategy)` that Effect offers for it.
 *
 * Effect's own backing (`MutableQueue`) keeps a linked list, a node per message, and takes a batch
 * by prepending each message to a `Chunk` then reversing it: in an allocation profile of a durable
 * HTTP PUT, 0.7 KB per message. Here a message is pushed onto an array, and a batch that takes
 * every message waiting (the common case) is that array, handed over as the `Chunk`'s backing.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import type * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"

const variance = { _A: <A>(_: A): A => _ }

class ArrayBacking<A> implements Queue.BackingQueue<A> {
  readonly [Queue.BackingQueueTypeId] = variance as Queue.BackingQueue<A>[typeof Queue.BackingQueueTypeId]
  /** The messages from `head` on wait; those before it were taken. */
  private items: Array<A | undefined> = []
  private head = 0
  constructor(private readonly limit: number) {}

  length(): number {
    return this.items.length - this.head
  }

  capacity(): number {
    return this.limit
  }

  offer(element: A): boolean {
    if (this.length() >= this.limit) return false
    this.items.push(element)
    return true
  }

  offerAll(elements: Iterable<A>): Chunk.Chunk<A> {
    const left: Array<A> = []
    for (const element of elements) {
      if (left.length > 0 || !this.offer(element)) left.push(element)
    }
    return Chunk.unsafeFromArray(left)
  }

  poll<Def>(def: Def): A | Def {
    if (this.length() === 0) return def
    const element = this.items[this.head] as A
    this.items[this.head++] = undefined
    this.compact()
    return element
  }

  pollUpTo(limit: number): Chunk.Chunk<A> {
    const count = Math.min(limit, this.length())
    if (count === 0) return Chunk.empty()
    let taken: Array<A | undefined>
    if (this.head === 0 && count === this.items.length) {
      taken = this.items
      this.items = []
    } else {
      taken = this.items.slice(this.head, this.head + count)
      this.items.fill(undefined, this.head, this.head + count)
      this.head += count
      this.compact()
    }
    return Chunk.unsafeFromArray(taken as Array<A>)
  }

  /** Drops the slots taken once they are most of the array, or all of it. */
  private compact() {
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }
}

/** A queue of at most `capacity` messages whose `unsafeOffer` refuses one past it (Effect's `Queue.dropping`). */
export const dropping = <A>(capacity: number): Effect.Effect<Queue.Queue<A>> =>
  Queue.make<A>(new ArrayBacking<A>(capacity), Queue.droppingStrategy<A>())
