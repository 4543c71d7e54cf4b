/**
 * Reading a store's files back into its state.
 *
 * A snapshot is written whole and fsynced before it is renamed into place, so any damage in it
 * is corruption. A log grows at its end, so a bad last record is a torn tail: the write it belongs
 * to was never acknowledged (under `sync: "always"`), and it is cut off. A bad record followed by
 * a good one is corruption: it fails with `CorruptLog` naming the file and byte offset.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import { type Entry, type Snapshot } from "./Change.js"
import { CorruptLog } from "./Errors.js"
import { decodeAt, type Decoded, headerBytes } from "./Record.js"

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

const parseValue = (json: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(json) }
  } catch {
    return { ok: false }
  }
}

/** Applies a log or snapshot record to entries in mutation; a reason string if it cannot. */
const apply = (entries: Entries, record: Decoded): Entries | string => {
  switch (record._tag) {
    case "Put": {
      const parsed = parseValue(record.json)
      if (!parsed.ok) return "value is not JSON"
      return HashMap.set(entries, record.key, { value: parsed.value, version: record.sequence })
    }
    case "Delete":
      return HashMap.remove(entries, record.key)
    case "Clear":
      return HashMap.beginMutation(HashMap.empty())
    case "Snapshot":
      return "snapshot header inside a log"
  }
}

/** Reads a snapshot: a header, exactly as many puts as it announces, and nothing after. */
export const readSnapshot = (bytes: Buffer, file: string): Either.Either<Snapshot, CorruptLog> => {
  const corrupt = (offset: number, reason: string) => Either.left(new CorruptLog({ file, offset, reason }))
  const header = decodeAt(bytes, 0)
  if (!header.ok) return corrupt(0, header.reason)
  if (header.record._tag !== "Snapshot") return corrupt(0, "no snapshot header")
  const { count, sequence } = header.record
  let entries: Entries = HashMap.beginMutation(HashMap.empty())
  let offset = header.end
  for (let i = 0; i < count; i++) {
    const read = decodeAt(bytes, offset)
    if (!read.ok) return corrupt(offset, read.reason)
    if (read.record._tag !== "Put" || read.record.sequence > sequence) return corrupt(offset, "not an entry of this snapshot")
    const next = apply(entries, read.record)
    if (typeof next === "string") return corrupt(offset, next)
    entries = next
    offset = read.end
  }
  if (offset !== bytes.length) return corrupt(offset, `${bytes.length - offset} bytes after the last entry`)
  return Either.right({ entries: HashMap.endMutation(entries), sequence })
}

/**
 * Replays a log on top of `base`: records the snapshot already covers (sequence at or below its
 * own, left by a compaction cut short) are skipped; sequence numbers must grow record by record.
 */
export const replayLog = (bytes: Buffer, file: string, base: Snapshot): Either.Either<LogReplay, CorruptLog> => {
  let entries: Entries = HashMap.beginMutation(base.entries)
  let sequence = base.sequence
  let previous = 0
  let records = 0
  let offset = 0
  let torn: TornTail | undefined
  while (offset < bytes.length) {
    const read = decodeAt(bytes, offset)
    const reason = !read.ok
      ? read.reason
      : read.record.sequence <= previous
      ? `sequence ${read.record.sequence} after ${previous}`
      : undefined
    if (reason !== undefined || !read.ok) {
      if (hasRecordAfter(bytes, offset + 1, previous)) {
        return Either.left(new CorruptLog({ file, offset, reason: `${reason}, with whole records after it` }))
      }
      torn = { offset, reason: reason ?? "bad record" }
      break
    }
    const record = read.record
    if (record.sequence > base.sequence) {
      const next = apply(entries, record)
      if (typeof next === "string") return Either.left(new CorruptLog({ file, offset, reason: next }))
      entries = next
      sequence = record.sequence
    }
    previous = record.sequence
    records++
    offset = read.end
  }
  return Either.right({ state: { entries: HashMap.endMutation(entries), sequence }, records, end: offset, torn })
}

/** Whether a whole log record, later in sequence than `after`, starts anywhere from `from` on. */
const hasRecordAfter = (bytes: Buffer, from: number, after: number): boolean => {
  for (let offset = from; offset + headerBytes < bytes.length; offset++) {
    const read = decodeAt(bytes, offset)
    if (read.ok && read.record._tag !== "Snapshot" && read.record.sequence > after) return true
  }
  return false
}
