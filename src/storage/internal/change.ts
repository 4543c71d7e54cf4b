/**
 * The state that changes add up to; `../Change.ts` re-exports it.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type { Change, Entry, Snapshot } from "../Change.js"

export const emptySnapshot: Snapshot = { entries: HashMap.empty(), sequence: 0 }

export const applyChange = (entries: HashMap.HashMap<string, Entry>, change: Change): HashMap.HashMap<string, Entry> => {
  switch (change._tag) {
    case "Put":
      return HashMap.set(entries, change.key, { value: change.value, version: change.version, expiresAt: change.expiresAt })
    case "Delete":
    case "Expire":
      return HashMap.remove(entries, change.key)
    case "Clear":
      return HashMap.beginMutation(HashMap.empty())
    case "Touch": {
      const current = HashMap.get(entries, change.key)
      return Option.isNone(current)
        ? entries
        : HashMap.set(entries, change.key, { value: current.value.value, version: change.version, expiresAt: change.expiresAt })
    }
    case "Atomic": {
      for (const inner of change.changes) entries = applyChange(entries, inner)
      return entries
    }
  }
}

export const weight = (change: Change): number => {
  switch (change._tag) {
    case "Put":
      return change.key.length + change.json.length
    case "Clear":
      return 1
    case "Atomic": {
      let size = 0
      for (const inner of change.changes) size += weight(inner)
      return size
    }
    default:
      return change.key.length
  }
}

/** The last of `changes` that number at most `count` and weigh at most `bytes`, the newest whatever it weighs. */
export const lastOf = (changes: ReadonlyArray<Change>, count: number, bytes: number): Array<Change> => {
  let start = Math.max(0, changes.length - count)
  let total = 0
  for (let i = changes.length - 1; i >= start; i--) {
    total += weight(changes[i]!)
    if (total > bytes && i < changes.length - 1) {
      start = i + 1
      break
    }
  }
  return changes.slice(start)
}
