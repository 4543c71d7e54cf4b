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
import { type Decoded, decodeAt, type DecodedPut, headerBytes, readPutValue } from "./record.js"

/** A torn tail: where the last whole record ends and why what follows is not one. */
export interface TornTail {
  readonly offset: number
  readonly reason: string
}

/** A state read back, and whether any of its entries has a deadline (`false`: the store need not look for them). */
export interface Recovered extends Snapshot {
  readonly anyExpiry: boolean
}

/** A log replayed on top of a snapshot. */
export interface LogReplay {
  readonly state: Recovered
  /** Records in the log, whether or not the snapshot already covered them. */
  readonly records: number
  /** Where the last whole record ends: the length the log must be cut to. */
  readonly end: number
  readonly torn: TornTail | undefined
  /** The last changes after the snapshot, oldest first, as many as asked for. */
  readonly recent: ReadonlyArray<Change>
}

type Entries = HashMap.HashMap<string, Entry>

/** What {@link parseValue} gives for text that is not JSON. */
const notJson: unique symbol = Symbol("notJson")

/** Parses a stored value, or gives `notJson`: no wrapper object per value, where a replay parses one per key. */
const parseValue = (json: string): unknown => {
  try {
    return JSON.parse(json)
  } catch {
    return notJson
  }
}

/** An entry of the value in `json`; `undefined` if it is not JSON. */
const valueEntry = (json: string, version: number, expiresAt: number | undefined): Entry | undefined => {
  const value = parseValue(json)
  return value === notJson ? undefined : { value, version, expiresAt }
}

/** Reads a snapshot: a header, exactly as many puts as it announces, and nothing after. */
export const readSnapshot = (bytes: Buffer, file: string): Either.Either<Recovered, CorruptLog> => {
  const corrupt = (offset: number, reason: string) => Either.left(new CorruptLog({ file, offset, reason }))
  const header = decodeAt(bytes, 0)
  if (typeof header === "string") return corrupt(0, header)
  if (header._tag !== "Snapshot") return corrupt(0, "no snapshot header")
  const { count, sequence } = header
  let entries: Entries = HashMap.beginMutation(HashMap.empty())
  let anyExpiry = false
  let offset = header.end
  for (let i = 0; i < count; i++) {
    const record = decodeAt(bytes, offset)
    if (typeof record === "string") return corrupt(offset, record)
    if (record._tag !== "Put" || record.sequence > sequence) return corrupt(offset, "not an entry of this snapshot")
    const entry = valueEntry(record.json, record.sequence, record.expiresAt)
    if (entry === undefined) return corrupt(offset, "value is not JSON")
    entries = HashMap.set(entries, record.key, entry)
    anyExpiry ||= entry.expiresAt !== undefined
    offset = record.end
  }
  if (offset !== bytes.length) return corrupt(offset, `${bytes.length - offset} bytes after the last entry`)
  return Either.right({ entries: HashMap.endMutation(entries), sequence, anyExpiry })
}

/**
 * A key's last change in a log, when it is not a plain put (those are kept as their record's
 * offset, a small integer: no object and no value text per key while the log is read). `json` is
 * the value of a put inside an atomic record; `undefined` with `at` -1 is a touch of the value the
 * snapshot holds. Mutable: a later touch moves version and expiry.
 */
interface LastChange {
  /** The offset of the record that set the value, or -1 for the snapshot's. */
  readonly at: number
  readonly json: string | undefined
  version: number
  expiresAt: number | undefined
}

/**
 * Replays a log on top of `base`: records the snapshot already covers (sequence at or below its
 * own, left by a compaction cut short) are skipped; sequence numbers must grow record by record.
 * Each key's last change is found first, so overwritten values are never decoded, parsed or
 * stored. The last `history` changes after the snapshot are decoded again, values parsed, as `recent`.
 */
export const replayLog = (
  bytes: Buffer,
  file: string,
  base: Snapshot & { readonly anyExpiry?: boolean },
  history = 0
): Either.Either<LogReplay, CorruptLog> => {
  // A key's last change: a plain put's record offset, a `LastChange`, or `undefined` once gone.
  const last = new Map<string, number | LastChange | undefined>()
  let cleared = false
  let sequence = base.sequence
  let previous = 0
  let records = 0
  let offset = 0
  let torn: TornTail | undefined
  // Offsets of the last `history` records after the snapshot, as a ring; none kept for 0.
  const ring: Array<number> = []
  let ringNext = 0
  while (offset < bytes.length) {
    const record = decodeAt(bytes, offset, false)
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
          last.set(record.key, offset)
          break
        case "Delete":
        case "Expire":
          last.set(record.key, undefined)
          break
        case "Clear":
          last.clear()
          cleared = true
          break
        case "Touch": {
          const current = last.get(record.key)
          if (typeof current === "number") {
            last.set(record.key, { at: current, json: undefined, version: record.sequence, expiresAt: record.expiresAt })
          } else if (current !== undefined) {
            current.version = record.sequence
            current.expiresAt = record.expiresAt
          } else if (!last.has(record.key) && !cleared) {
            last.set(record.key, { at: -1, json: undefined, version: record.sequence, expiresAt: record.expiresAt })
          }
          break
        }
        case "Atomic":
          for (const change of record.changes) {
            last.set(
              change.key,
              change._tag === "Put"
                ? { at: offset, json: change.json, version: record.sequence, expiresAt: change.expiresAt }
                : undefined
            )
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
  let entries: Entries = HashMap.beginMutation(cleared ? HashMap.empty() : base.entries)
  // Whether a kept entry may have a deadline: one of the base's, unless cleared, or one set here.
  let anyExpiry = !cleared && (base.anyExpiry ?? HashMap.size(base.entries) > 0)
  for (const [key, change] of last) {
    let entry: Entry | undefined
    let at: number
    if (change === undefined) {
      entries = HashMap.remove(entries, key)
      continue
    } else if (typeof change === "number") {
      at = change
      entry = readPutValue(bytes, change, valueEntry)
    } else if (change.at === -1) {
      const touched = HashMap.get(entries, key)
      if (Option.isNone(touched)) continue
      at = -1
      entry = { value: touched.value.value, version: change.version, expiresAt: change.expiresAt }
    } else {
      at = change.at
      const json = change.json ?? readPutValue(bytes, change.at, (json) => json)
      entry = valueEntry(json, change.version, change.expiresAt)
    }
    if (entry === undefined) return Either.left(new CorruptLog({ file, offset: at, reason: "value is not JSON" }))
    entries = HashMap.set(entries, key, entry)
    anyExpiry ||= entry.expiresAt !== undefined
  }
  const recent: Array<Change> = []
  const oldest = ring.length < history ? 0 : ringNext
  for (let i = 0; i < ring.length; i++) {
    const at = ring[(oldest + i) % ring.length]!
    const change = toChange(decodeAt(bytes, at) as Exclude<Decoded, { _tag: "Snapshot" }>)
    if (change === undefined) return Either.left(new CorruptLog({ file, offset: at, reason: "value is not JSON" }))
    recent.push(change)
  }
  return Either.right({ state: { entries: HashMap.endMutation(entries), sequence, anyExpiry }, records, end: offset, torn, recent })
}

/** A decoded put as a change, its value parsed; `undefined` if the value is not JSON. */
const toPut = (put: DecodedPut, version: number): Put | undefined => {
  const value = parseValue(put.json)
  return value === notJson ? undefined : { _tag: "Put", key: put.key, value, json: put.json, version, expiresAt: put.expiresAt }
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
