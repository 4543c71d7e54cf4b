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
