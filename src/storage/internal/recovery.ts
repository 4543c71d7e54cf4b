/**
 * Reading a store's files back into its state.
 *
 * A snapshot is written whole and fsynced before it is renamed into place, so any damage in it
 * is corruption. A log grows at its end, so a bad last record is a torn tail: the write it belongs
 * to was never acknowledged (under `sync: "always"`), and it is cut off. A bad record followed by
 * a good one is corruption: it fails with `CorruptLog` naming the file and byte offset.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type { Change, Delete, Entry, Put, Snapshot } from "../Change.js"
import { CorruptLog } from "./errors.js"
import { type Decoded, decodeAt, type DecodedPut, headerBytes } from "./record.js"

/** A torn tail: where the last whole record ends and why what follows is not one. */
export interface TornTail {
  readonly offset: number
  readonly reason: string
}

/** A log replayed on top of a snapshot. */
export interface LogReplay {
  readonly state: Snapshot
  /** Records in the log, whether or not the snapshot already covered them. */
  readonly records: number
  /** Where the last whole record ends: the length the log must be cut to. */
  readonly end: number
  readonly torn: TornTail | undefined
  /** The last changes after the snapshot, oldest first, as many as asked for. */
  readonly recent: ReadonlyArray<Change>
}

type Entries = HashMap.HashMap<string, Entry>

/** Parses a stored value; `undefined` marks text that is not JSON. */
const parseValue = (json: string): { readonly value: unknown } | undefined => {
  try {
    return { value: JSON.parse(json) }
  } catch {
    return undefined
  }
}

/** Reads a snapshot: a header, exactly as many puts as it announces, and nothing after. */
export const readSnapshot = (bytes: Buffer, file: string): Either.Either<Snapshot, CorruptLog> => {
  const corrupt = (offset: number, reason: string) => Either.left(new CorruptLog({ file, offset, reason }))
  const header = decodeAt(bytes, 0)
  if (typeof header === "string") return corrupt(0, header)
  if (header._tag !== "Snapshot") return corrupt(0, "no snapshot header")
  const { count, sequence } = header
  let entries: Entries = HashMap.beginMutation(HashMap.empty())
  let offset = header.end
  for (let i = 0; i < count; i++) {
    const record = decodeAt(bytes, offset)
    if (typeof record === "string") return corrupt(offset, record)
    if (record._tag !== "Put" || record.sequence > sequence) return corrupt(offset, "not an entry of this snapshot")
    const parsed = parseValue(record.json)
    if (parsed === undefined) return corrupt(offset, "value is not JSON")
    entries = HashMap.set(entries, record.key, { value: parsed.value, version: record.sequence, expiresAt: record.expiresAt })
    offset = record.end
  }
  if (offset !== bytes.length) return corrupt(offset, `${bytes.length - offset} bytes after the last entry`)
  return Either.right({ entries: HashMap.endMutation(entries), sequence })
}

/**
 * Replays a log on top of `base`: records the snapshot already covers (sequence at or below its
 * own, left by a compaction cut short) are skipped; sequence numbers must grow record by record.
 * Each change goes straight into the entries (no map of each key's last change first: that map
 * cost 10% of a 1M-key reopen's CPU, more than parsing the values a later record overwrites, which
 * compaction bounds to as many as the live keys). A value that is not JSON is corruption only if it
 * is still a key's value at the end. The last `history` changes after the snapshot are decoded
 * again, values parsed, as `recent`.
 */
export const replayLog = (
  bytes: Buffer,
  file: string,
  base: Snapshot,
  history = 0
): Either.Either<LogReplay, CorruptLog> => {
  let entries: Entries = HashMap.beginMutation(base.entries)
  // Keys whose value, as last written, is not JSON, with the offset of that record.
  const notJson = new Map<string, number>()
  const put = (change: DecodedPut, version: number, offset: number) => {
    const parsed = parseValue(change.json)
    if (parsed === undefined) {
      notJson.set(change.key, offset)
      entries = HashMap.remove(entries, change.key)
      return
    }
    if (notJson.size > 0) notJson.delete(change.key)
    entries = HashMap.set(entries, change.key, { value: parsed.value, version, expiresAt: change.expiresAt })
  }
  const remove = (key: string) => {
    if (notJson.size > 0) notJson.delete(key)
    entries = HashMap.remove(entries, key)
  }
  let sequence = base.sequence
  let previous = 0
  let records = 0
  let offset = 0
  let torn: TornTail | undefined
  // Offsets of the last `history` records after the snapshot, as a ring; none kept for 0.
  const ring: Array<number> = []
  let ringNext = 0
  while (offset < bytes.length) {
    const record = decodeAt(bytes, offset)
    const reason = typeof record === "string"
      ? record
      : record._tag === "Snapshot"
      ? "snapshot header inside a log"
      : record.sequence <= previous
      ? `sequence ${record.sequence} after ${previous}`
      : undefined
    if (reason !== undefined || typeof record === "string") {
      if (hasRecordAfter(bytes, offset + 1, previous)) {
        return Either.left(new CorruptLog({ file, offset, reason: `${reason}, with whole records after it` }))
      }
      torn = { offset, reason: reason ?? "bad record" }
      break
    }
    if (record.sequence > base.sequence) {
      switch (record._tag) {
        case "Put":
          put(record, record.sequence, offset)
          break
        case "Delete":
        case "Expire":
          remove(record.key)
          break
        case "Clear":
          entries = HashMap.beginMutation(HashMap.empty())
          notJson.clear()
          break
        case "Touch": {
          const current = HashMap.get(entries, record.key)
          if (Option.isSome(current)) {
            entries = HashMap.set(entries, record.key, {
              value: current.value.value,
              version: record.sequence,
              expiresAt: record.expiresAt
            })
          }
          break
        }
        case "Atomic":
          for (const change of record.changes) {
            if (change._tag === "Put") put(change, record.sequence, offset)
            else remove(change.key)
          }
          break
      }
      sequence = record.sequence
      if (history > 0) {
        ring[ringNext] = offset
        ringNext = (ringNext + 1) % history
      }
    }
    previous = record.sequence
    records++
    offset = record.end
  }
  for (const at of notJson.values()) return Either.left(new CorruptLog({ file, offset: at, reason: "value is not JSON" }))
  const recent: Array<Change> = []
  const oldest = ring.length < history ? 0 : ringNext
  for (let i = 0; i < ring.length; i++) {
    const at = ring[(oldest + i) % ring.length]!
    const change = toChange(decodeAt(bytes, at) as Exclude<Decoded, { _tag: "Snapshot" }>)
    if (change === undefined) return Either.left(new CorruptLog({ file, offset: at, reason: "value is not JSON" }))
    recent.push(change)
  }
  return Either.right({ state: { entries: HashMap.endMutation(entries), sequence }, records, end: offset, torn, recent })
}

/** A decoded put as a change, its value parsed; `undefined` if the value is not JSON. */
const toPut = (put: DecodedPut, version: number): Put | undefined => {
  const parsed = parseValue(put.json)
  return parsed && { _tag: "Put", key: put.key, value: parsed.value, json: put.json, version, expiresAt: put.expiresAt }
}

/** A decoded log record as the change it records; `undefined` if a value in it is not JSON. */
const toChange = (record: Exclude<Decoded, { _tag: "Snapshot" }>): Change | undefined => {
  const version = record.sequence
  switch (record._tag) {
    case "Put":
      return toPut(record, version)
    case "Delete":
    case "Expire":
      return { _tag: record._tag, key: record.key, version }
    case "Clear":
      return { _tag: "Clear", version }
    case "Touch":
      return { _tag: "Touch", key: record.key, version, expiresAt: record.expiresAt }
    case "Atomic": {
      const changes: Array<Put | Delete> = []
      for (const inner of record.changes) {
        const change = inner._tag === "Put" ? toPut(inner, version) : { _tag: "Delete" as const, key: inner.key, version }
        if (change === undefined) return undefined
        changes.push(change)
      }
      return { _tag: "Atomic", version, changes }
    }
  }
}

/** Whether a whole log record, later in sequence than `after`, starts anywhere from `from` on. */
const hasRecordAfter = (bytes: Buffer, from: number, after: number): boolean => {
  for (let offset = from; offset + headerBytes < bytes.length; offset++) {
    const record = decodeAt(bytes, offset)
    if (typeof record !== "string" && record._tag !== "Snapshot" && record.sequence > after) return true
  }
  return false
}
