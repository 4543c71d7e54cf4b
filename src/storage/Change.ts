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
 * A value and the version that wrote it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly value: unknown
  readonly version: number
}

/**
 * One change to a store. `json` is the value already serialised once, for the log to reuse.
 *
 * @since 0.1.0
 * @category models
 */
export type Change =
  | { readonly _tag: "Put"; readonly key: string; readonly value: unknown; readonly json: string; readonly version: number }
  | { readonly _tag: "Delete"; readonly key: string; readonly version: number }
  | { readonly _tag: "Clear"; readonly version: number }

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
 * entries to go on with: still in mutation, to be ended with `HashMap.endMutation`.
 *
 * @since 0.1.0
 * @category utils
 */
export const applyChange: (entries: HashMap.HashMap<string, Entry>, change: Change) => HashMap.HashMap<string, Entry> =
  internal.applyChange
