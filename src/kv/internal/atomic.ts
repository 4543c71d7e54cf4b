/**
 * One atomic write applied to a store's state: its checks against the state as it is, then its
 * operations in order on a working copy, all with one version. The outcome is data: the store
 * turns a refusal into its error and the changes into one `Atomic` change.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type { Delete, Entry, Put } from "../../storage/Change.js"
import type { AtomicCheck, AtomicOperation } from "../Store.js"
import { isExpired } from "./expiry.js"

/** A check that failed: the version it wanted and the one the key is at (`null`: absent). */
export interface FailedCheck {
  readonly key: string
  readonly expected: number | null
  readonly actual: number | null
}

/** What applying an atomic write came to. */
export type Outcome =
  | { readonly _tag: "Applied"; readonly changes: ReadonlyArray<Put | Delete> }
  | { readonly _tag: "CheckFailed"; readonly failed: ReadonlyArray<FailedCheck> }
  | { readonly _tag: "NotANumber"; readonly key: string; readonly reason: string }

/**
 * Applies `checks` and `operations` to `entries` (a key past its deadline at `now` is absent)
 * without changing them: every failed check is listed; an increment of a value that is not a
 * number, or to a result that is not finite, refuses the whole write.
 */
export const apply = (
  entries: HashMap.HashMap<string, Entry>,
  checks: ReadonlyArray<AtomicCheck>,
  operations: ReadonlyArray<AtomicOperation>,
  version: number,
  now: number
): Outcome => {
  const stored = (key: string): Entry | undefined => {
    const found = HashMap.get(entries, key)
    return Option.isSome(found) && !isExpired(found.value, now) ? found.value : undefined
  }
  const failed: Array<FailedCheck> = []
  for (const check of checks) {
    const actual = stored(check.key)?.version ?? null
    if (actual !== check.version) failed.push({ key: check.key, expected: check.version, actual })
  }
  if (failed.length > 0) return { _tag: "CheckFailed", failed }

  // The write's own effect on its keys so far: an entry, or null once deleted.
  const written = new Map<string, Entry | null>()
  const current = (key: string): Entry | undefined => {
    const own = written.get(key)
    return own === undefined ? stored(key) : own ?? undefined
  }
  const changes: Array<Put | Delete> = []
  const put = (key: string, value: unknown, json: string, expiresAt: number | undefined) => {
    changes.push({ _tag: "Put", key, value, json, version, expiresAt })
    written.set(key, { value, version, expiresAt })
  }
  for (const operation of operations) {
    switch (operation.op) {
      case "put":
        put(operation.key, operation.value, operation.json, operation.ttl === undefined ? undefined : now + operation.ttl)
        break
      case "delete":
        // Deleting an absent key changes nothing, as a single delete does.
        if (current(operation.key) === undefined) break
        changes.push({ _tag: "Delete", key: operation.key, version })
        written.set(operation.key, null)
        break
      case "increment": {
        const entry = current(operation.key)
        const before = entry === undefined ? 0 : entry.value
        if (typeof before !== "number") {
          return { _tag: "NotANumber", key: operation.key, reason: `its value is ${describe(before)}, not a number` }
        }
        const after = before + operation.by
        if (!Number.isFinite(after)) {
          return { _tag: "NotANumber", key: operation.key, reason: `${before} + ${operation.by} is ${after}, not a finite number` }
        }
        // An increment keeps the key's expiry.
        put(operation.key, after, JSON.stringify(after), entry?.expiresAt)
        break
      }
    }
  }
  return { _tag: "Applied", changes }
}

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`
