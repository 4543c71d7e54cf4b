/**
 * What the storage layer records: changes to a store, and the state they add up to.
 *
 * Every change carries the sequence number the store gave it; a key's version is the sequence
 * number of the change that last wrote it, so versions never repeat within a store, even across
 * a delete and a re-create (no ABA for compare-and-set).
 *
 * @since 0.1.0
 */
import * as HashMap from "effect/HashMap"

/** A value and the version that wrote it. */
export interface Entry {
  readonly value: unknown
  readonly version: number
}

/** One change to a store. `json` is the value already serialised once, for the log to reuse. */
export type Change =
  | { readonly _tag: "Put"; readonly key: string; readonly value: unknown; readonly json: string; readonly version: number }
  | { readonly _tag: "Delete"; readonly key: string; readonly version: number }
  | { readonly _tag: "Clear"; readonly version: number }

/** A store's whole state: its entries and the last sequence number it used. */
export interface Snapshot {
  readonly entries: HashMap.HashMap<string, Entry>
  readonly sequence: number
}

/** The state of a store that has never been written. */
export const emptySnapshot: Snapshot = { entries: HashMap.empty(), sequence: 0 }

/**
 * Applies a change to entries that are being mutated (`HashMap.beginMutation`), returning the
 * entries to go on with: still in mutation, to be ended with `HashMap.endMutation`.
 */
export const applyChange = (entries: HashMap.HashMap<string, Entry>, change: Change): HashMap.HashMap<string, Entry> => {
  switch (change._tag) {
    case "Put":
      return HashMap.set(entries, change.key, { value: change.value, version: change.version })
    case "Delete":
      return HashMap.remove(entries, change.key)
    case "Clear":
      return HashMap.beginMutation(HashMap.empty())
  }
}
