/**
 * The byte format of logs and snapshots: a file is a run of records, each
 *
 * ```text
 * u32 LE  payload length
 * u32 LE  CRC32 of the payload (zlib.crc32)
 * payload:
 *   u8      kind: 1 put, 2 delete, 3 clear, 4 snapshot header
 *   u32 LE  sequence number, low 32 bits
 *   u32 LE  sequence number, high bits
 *   put:      u32 LE key byte length, key (UTF-8), value as JSON (UTF-8, the rest)
 *   delete:   key (UTF-8, the rest)
 *   clear:    nothing
 *   snapshot: u32 LE low and u32 LE high bits of the number of puts that follow
 * ```
 *
 * A log holds one record per change. A snapshot is a header (the store's sequence number and
 * entry count) followed by one put per entry, each with the entry's version as its sequence.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import { crc32 } from "node:zlib"
import type { Change, Snapshot } from "../Change.js"

/** Bytes before the payload: length and checksum. */
export const headerBytes = 8

const kindBytes = 1 + 8
const Put = 1
const Delete = 2
const Clear = 3
const SnapshotHeader = 4
const high = 2 ** 32

/** The largest payload a reader accepts: a bad length field must not allocate gigabytes. */
export const maxPayloadBytes = 256 * 1024 * 1024

const payloadBytes = (change: Change): number => {
  switch (change._tag) {
    case "Put":
      return kindBytes + 4 + Buffer.byteLength(change.key) + Buffer.byteLength(change.json)
    case "Delete":
      return kindBytes + Buffer.byteLength(change.key)
    case "Clear":
      return kindBytes
  }
}

/** Writes the record header and kind at `start`, returns where the rest of the payload goes. */
const writeHead = (buffer: Buffer, start: number, length: number, kind: number, sequence: number): number => {
  buffer.writeUInt32LE(length, start)
  buffer.writeUInt8(kind, start + 8)
  buffer.writeUInt32LE(sequence >>> 0, start + 9)
  buffer.writeUInt32LE(Math.floor(sequence / high), start + 13)
  return start + headerBytes + kindBytes
}

const seal = (buffer: Buffer, start: number, length: number) =>
  buffer.writeUInt32LE(crc32(buffer.subarray(start + headerBytes, start + headerBytes + length)), start + 4)

/** Encodes changes as consecutive records in one buffer, reusing each put's JSON text. */
export const encodeChanges = (changes: ReadonlyArray<Change>): Buffer => {
  let total = 0
  const lengths = changes.map((change) => {
    const length = payloadBytes(change)
    total += headerBytes + length
    return length
  })
  const buffer = Buffer.allocUnsafe(total)
  let start = 0
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!
    const length = lengths[i]!
    let at = writeHead(buffer, start, length, kindOf(change), change.version)
    if (change._tag === "Put") {
      const keyBytes = buffer.write(change.key, at + 4, "utf8")
      buffer.writeUInt32LE(keyBytes, at)
      at += 4 + keyBytes
      buffer.write(change.json, at, "utf8")
    } else if (change._tag === "Delete") {
      buffer.write(change.key, at, "utf8")
    }
    seal(buffer, start, length)
    start += headerBytes + length
  }
  return buffer
}

const kindOf = (change: Change): number => change._tag === "Put" ? Put : change._tag === "Delete" ? Delete : Clear

/**
 * Encodes a snapshot as buffers of about `chunkBytes` each: a header, then one put per entry.
 * Values are serialised here, once per compaction, since entries keep parsed values.
 */
export function* encodeSnapshot(snapshot: Snapshot, chunkBytes = 1024 * 1024): Generator<Buffer> {
  const header = Buffer.allocUnsafe(headerBytes + kindBytes + 8)
  const count = HashMap.size(snapshot.entries)
  const at = writeHead(header, 0, kindBytes + 8, SnapshotHeader, snapshot.sequence)
  header.writeUInt32LE(count >>> 0, at)
  header.writeUInt32LE(Math.floor(count / high), at + 4)
  seal(header, 0, kindBytes + 8)
  yield header
  let changes: Array<Change> = []
  let bytes = 0
  for (const [key, entry] of snapshot.entries) {
    const json = JSON.stringify(entry.value)
    changes.push({ _tag: "Put", key, value: entry.value, json, version: entry.version })
    bytes += key.length + json.length
    if (bytes >= chunkBytes) {
      yield encodeChanges(changes)
      changes = []
      bytes = 0
    }
  }
  if (changes.length > 0) yield encodeChanges(changes)
}

/** A record as read back, with `end`, where the next starts. Values stay JSON text until parsed. */
export type Decoded =
  | { readonly _tag: "Put"; readonly end: number; readonly sequence: number; readonly key: string; readonly json: string }
  | { readonly _tag: "Delete"; readonly end: number; readonly sequence: number; readonly key: string }
  | { readonly _tag: "Clear"; readonly end: number; readonly sequence: number }
  | { readonly _tag: "Snapshot"; readonly end: number; readonly sequence: number; readonly count: number }

/** Reads the record starting at `start` of `bytes`: the record, or why there is none (a string). */
export const decodeAt = (bytes: Buffer, start: number): Decoded | string => {
  if (bytes.length - start < headerBytes) return "record header cut short"
  const length = bytes.readUInt32LE(start)
  if (length < kindBytes || length > maxPayloadBytes) return `impossible record length ${length}`
  const at = start + headerBytes
  const end = at + length
  if (end > bytes.length) return "record cut short"
  if (crc32(bytes.subarray(at, end)) !== bytes.readUInt32LE(start + 4)) return "checksum mismatch"
  const kind = bytes[at]
  const sequence = bytes.readUInt32LE(at + 1) + bytes.readUInt32LE(at + 5) * high
  switch (kind) {
    case Put: {
      if (length < kindBytes + 4) return "put record too short"
      const keyEnd = at + kindBytes + 4 + bytes.readUInt32LE(at + kindBytes)
      if (keyEnd > end) return "key longer than its record"
      const key = bytes.toString("utf8", at + kindBytes + 4, keyEnd)
      return { _tag: "Put", end, sequence, key, json: bytes.toString("utf8", keyEnd, end) }
    }
    case Delete:
      return { _tag: "Delete", end, sequence, key: bytes.toString("utf8", at + kindBytes, end) }
    case Clear:
      return { _tag: "Clear", end, sequence }
    case SnapshotHeader:
      if (length !== kindBytes + 8) return "snapshot header of the wrong size"
      return {
        _tag: "Snapshot",
        end,
        sequence,
        count: bytes.readUInt32LE(at + kindBytes) + bytes.readUInt32LE(at + kindBytes + 4) * high
      }
    default:
      return `unknown record kind ${kind}`
  }
}
