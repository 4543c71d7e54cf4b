/**
 * What the storage layer records: changes to a store, and the state they add up to.
 *
 * Every change carries the sequence number the store gave it; a key's version is the sequence
 * number of the change that last wrote it, so versions never repeat within a store, even across
 * a delete and a re-create (no ABA for compare-and-set).
 *
 * @since 0.1.0
 */
import type * as HashMap from "effect/HashMap"
import * as internal from "./internal/change.js"

/**
 * A value, the version that wrote it, and when it expires.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly value: unknown
  readonly version: number
  /**
   * Epoch milliseconds (Effect `Clock` time) after which the key is gone; `undefined`: never.
   *
   * @since 0.2.0
   */
  readonly expiresAt: number | undefined
}

/**
 * A key set to a value. `json` is the value already serialised once, for the log to reuse;
 * `expiresAt` (new in 0.2.0) is the key's deadline, `undefined` for none.
 *
 * @since 0.2.0
 * @category models
 */
export interface Put {
  readonly _tag: "Put"
  readonly key: string
  readonly value: unknown
  readonly json: string
  readonly version: number
  readonly expiresAt: number | undefined
}

/**
 * A key deleted.
 *
 * @since 0.2.0
 * @category models
 */
export interface Delete {
  readonly _tag: "Delete"
  readonly key: string
  readonly version: number
}

/**
 * Every key deleted.
 *
 * @since 0.2.0
 * @category models
 */
export interface Clear {
  readonly _tag: "Clear"
  readonly version: number
}

/**
 * A key's deadline passed: it is gone, as after a delete.
 *
 * @since 0.2.0
 * @category models
 */
export interface Expire {
  readonly _tag: "Expire"
  readonly key: string
  readonly version: number
}

/**
 * A key's expiry set, moved or removed (`undefined`), its value kept; its version becomes `version`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Touch {
  readonly _tag: "Touch"
  readonly key: string
  readonly version: number
  readonly expiresAt: number | undefined
}

/**
 * One atomic write: its puts and deletes apply together or not at all, in order, and each has
 * this same `version`. The log keeps it as one record, so a torn tail can never apply part of it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Atomic {
  readonly _tag: "Atomic"
  readonly version: number
  readonly changes: ReadonlyArray<Put | Delete>
}

/**
 * One change to a store.
 *
 * @since 0.1.0
 * @category models
 */
export type Change = Put | Delete | Clear | Expire | Touch | Atomic

/**
 * A store's whole state: its entries and the last sequence number it used.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly entries: HashMap.HashMap<string, Entry>
  readonly sequence: number
}

/**
 * The state of a store that has never been written.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptySnapshot: Snapshot = internal.emptySnapshot

/**
 * Applies a change to entries that are being mutated (`HashMap.beginMutation`), returning the
 * entries to go on with: still in mutation, to be ended with `HashMap.endMutation`. A touch of
 * an absent key changes nothing.
 *
 * @since 0.1.0
 * @category utils
 */
export const applyChange: (entries: HashMap.HashMap<string, Entry>, change: Change) => HashMap.HashMap<string, Entry> =
  internal.applyChange

/**
 * What a change weighs, roughly in bytes: its keys and its values' JSON. What a history of
 * changes kept in memory is bounded by (`OpenOptions.historyBytes`, from `KV`'s
 * `watchHistoryBytes`).
 *
 * @since 0.2.0
 * @category utils
 */
export const weight: (change: Change) => number = internal.weight
