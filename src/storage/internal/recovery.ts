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
import type { Entry, Snapshot } from "../Change.js"
import { CorruptLog } from "./errors.js"
import { decodeAt, headerBytes } from "./record.js"

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
    entries = HashMap.set(entries, record.key, { value: parsed.value, version: record.sequence })
    offset = record.end
  }
  if (offset !== bytes.length) return corrupt(offset, `${bytes.length - offset} bytes after the last entry`)
  return Either.right({ entries: HashMap.endMutation(entries), sequence })
}

/** A key's last change in a log: its put (value still JSON) or `undefined` for a delete. */
type LastChange = { readonly json: string; readonly version: number; readonly offset: number } | undefined

/**
 * Replays a log on top of `base`: records the snapshot already covers (sequence at or below its
 * own, left by a compaction cut short) are skipped; sequence numbers must grow record by record.
 * Each key's last change is found first, so overwritten values are never parsed or stored.
 */
export const replayLog = (bytes: Buffer, file: string, base: Snapshot): Either.Either<LogReplay, CorruptLog> => {
  const last = new Map<string, LastChange>()
  let cleared = false
  let sequence = base.sequence
  let previous = 0
  let records = 0
  let offset = 0
  let torn: TornTail | undefined
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
      if (record._tag === "Put") last.set(record.key, { json: record.json, version: record.sequence, offset })
      else if (record._tag === "Delete") last.set(record.key, undefined)
      else if (record._tag === "Clear") {
        last.clear()
        cleared = true
      }
      sequence = record.sequence
    }
    previous = record.sequence
    records++
    offset = record.end
  }
  let entries: Entries = HashMap.beginMutation(cleared ? HashMap.empty() : base.entries)
  for (const [key, change] of last) {
    if (change === undefined) {
      entries = HashMap.remove(entries, key)
      continue
    }
    const parsed = parseValue(change.json)
    if (parsed === undefined) return Either.left(new CorruptLog({ file, offset: change.offset, reason: "value is not JSON" }))
    entries = HashMap.set(entries, key, { value: parsed.value, version: change.version })
  }
  return Either.right({ state: { entries: HashMap.endMutation(entries), sequence }, records, end: offset, torn })
}

/** Whether a whole log record, later in sequence than `after`, starts anywhere from `from` on. */
const hasRecordAfter = (bytes: Buffer, from: number, after: number): boolean => {
  for (let offset = from; offset + headerBytes < bytes.length; offset++) {
    const record = decodeAt(bytes, offset)
    if (typeof record !== "string" && record._tag !== "Snapshot" && record.sequence > after) return true
  }
  return false
}
