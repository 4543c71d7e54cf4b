/**
 * The state that changes add up to; `../Change.ts` re-exports it.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import type { Change, Entry, Snapshot } from "../Change.js"

export const emptySnapshot: Snapshot = { entries: HashMap.empty(), sequence: 0 }

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
