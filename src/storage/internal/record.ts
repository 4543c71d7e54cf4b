/**
 * The byte format of logs and snapshots: a file is a run of records, each
 *
 * ```text
 * u32 LE  payload length
 * u32 LE  CRC32 of the payload (zlib.crc32)
 * payload:
 *   u8      kind
 *   u32 LE  sequence number, low 32 bits
 *   u32 LE  sequence number, high bits
 *   then, by kind:
 *   1 put              u32 LE key byte length, key (UTF-8), value as JSON (UTF-8, the rest)
 *   2 delete           key (UTF-8, the rest)
 *   3 clear            nothing
 *   4 snapshot header  u32 LE low and u32 LE high bits of the number of puts that follow
 *   5 put with expiry  f64 LE expiresAt (epoch ms), then as a put: key length, key, JSON
 *   6 expire           key (UTF-8, the rest)
 *   7 touch            u8 1 if an expiry follows (0: the expiry is removed), f64 LE expiresAt
 *                      (0 when removed), key (UTF-8, the rest)
 *   8 atomic           u32 LE number of changes, then each change:
 *                        u8 kind: 1 put, 5 put with expiry, 2 delete
 *                        f64 LE expiresAt (kind 5 only)
 *                        u32 LE key byte length, key
 *                        u32 LE JSON byte length, value as JSON (puts only)
 * ```
 *
 * A log holds one record per change: an atomic write is ONE record, so a torn tail drops it
 * whole, and its changes share the record's sequence number. A snapshot is a header (the store's
 * sequence number and entry count) followed by one put (kind 1, or 5 for a key with an expiry)
 * per entry, each with the entry's version as its sequence. Kinds 1–4 are those of 0.1.0, whose
 * logs read unchanged; a reader meeting a kind it does not know treats the record as bad.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import { crc32 } from "node:zlib"
import type { Change, Delete, Put, Snapshot } from "../Change.js"

/** Bytes before the payload: length and checksum. */
export const headerBytes = 8

const kindBytes = 1 + 8
const PutKind = 1
const DeleteKind = 2
const ClearKind = 3
const SnapshotHeaderKind = 4
const PutWithExpiryKind = 5
const ExpireKind = 6
const TouchKind = 7
const AtomicKind = 8
const high = 2 ** 32

/** The largest payload a record may have: a bad length field must not pass for a record. */
export const maxPayloadBytes = 256 * 1024 * 1024

const putBytes = (change: Put): number =>
  (change.expiresAt === undefined ? 0 : 8) + 4 + Buffer.byteLength(change.key) + Buffer.byteLength(change.json)

/** Bytes of a change inside an atomic record. */
const innerBytes = (change: Put | Delete): number =>
  change._tag === "Put" ? 1 + putBytes(change) + 4 : 1 + 4 + Buffer.byteLength(change.key)

const payloadBytes = (change: Change): number => {
  switch (change._tag) {
    case "Put":
      return kindBytes + putBytes(change)
    case "Delete":
    case "Expire":
      return kindBytes + Buffer.byteLength(change.key)
    case "Clear":
      return kindBytes
    case "Touch":
      return kindBytes + 1 + 8 + Buffer.byteLength(change.key)
    case "Atomic": {
      let bytes = kindBytes + 4
      for (const inner of change.changes) bytes += innerBytes(inner)
      return bytes
    }
  }
}

const kindOf = (change: Change): number => {
  switch (change._tag) {
    case "Put":
      return change.expiresAt === undefined ? PutKind : PutWithExpiryKind
    case "Delete":
      return DeleteKind
    case "Clear":
      return ClearKind
    case "Expire":
      return ExpireKind
    case "Touch":
      return TouchKind
    case "Atomic":
      return AtomicKind
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

/** Writes a length-prefixed string at `at`, returns where it ends. */
const writeSized = (buffer: Buffer, at: number, text: string): number => {
  const bytes = buffer.write(text, at + 4, "utf8")
  buffer.writeUInt32LE(bytes, at)
  return at + 4 + bytes
}

/** Writes a put's body (expiry if any, key, JSON) at `at`; the JSON is length-prefixed if `sized`. */
const writePut = (buffer: Buffer, at: number, change: Put, sized: boolean): number => {
  if (change.expiresAt !== undefined) {
    buffer.writeDoubleLE(change.expiresAt, at)
    at += 8
  }
  at = writeSized(buffer, at, change.key)
  return sized ? writeSized(buffer, at, change.json) : at + buffer.write(change.json, at, "utf8")
}

/** Writes a change's payload after its kind and sequence, from `at`. */
const writeBody = (buffer: Buffer, at: number, change: Change): void => {
  switch (change._tag) {
    case "Put":
      writePut(buffer, at, change, false)
      return
    case "Delete":
    case "Expire":
      buffer.write(change.key, at, "utf8")
      return
    case "Clear":
      return
    case "Touch":
      buffer.writeUInt8(change.expiresAt === undefined ? 0 : 1, at)
      buffer.writeDoubleLE(change.expiresAt ?? 0, at + 1)
      buffer.write(change.key, at + 9, "utf8")
      return
    case "Atomic":
      buffer.writeUInt32LE(change.changes.length, at)
      at += 4
      for (const inner of change.changes) {
        buffer.writeUInt8(kindOf(inner), at)
        at = inner._tag === "Put" ? writePut(buffer, at + 1, inner, true) : writeSized(buffer, at + 1, inner.key)
      }
      return
  }
}

/**
 * Encodes changes as consecutive records in one buffer, reusing each put's JSON text; fails
 * (with the reason) if a record would be larger than a reader accepts, writing nothing.
 */
export const encodeChanges = (changes: ReadonlyArray<Change>): Either.Either<Buffer, string> => {
  let total = 0
  const lengths = new Array<number>(changes.length)
  for (let i = 0; i < changes.length; i++) {
    const length = payloadBytes(changes[i]!)
    if (length > maxPayloadBytes) {
      return Either.left(`a record of ${length} bytes is over the ${maxPayloadBytes} a record may have`)
    }
    lengths[i] = length
    total += headerBytes + length
  }
  const buffer = Buffer.allocUnsafe(total)
  let start = 0
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!
    const length = lengths[i]!
    writeBody(buffer, writeHead(buffer, start, length, kindOf(change), change.version), change)
    seal(buffer, start, length)
    start += headerBytes + length
  }
  return Either.right(buffer)
}

/**
 * Encodes a snapshot as buffers of about `chunkBytes` each: a header, then one put per entry.
 * Values are serialised here, once per compaction, since entries keep parsed values.
 */
export function* encodeSnapshot(snapshot: Snapshot, chunkBytes = 1024 * 1024): Generator<Buffer> {
  const header = Buffer.allocUnsafe(headerBytes + kindBytes + 8)
  const count = HashMap.size(snapshot.entries)
  const at = writeHead(header, 0, kindBytes + 8, SnapshotHeaderKind, snapshot.sequence)
  header.writeUInt32LE(count >>> 0, at)
  header.writeUInt32LE(Math.floor(count / high), at + 4)
  seal(header, 0, kindBytes + 8)
  yield header
  let changes: Array<Change> = []
  let bytes = 0
  const flush = () => {
    // A value is at most what its log record held, so a snapshot's record is never too large.
    const encoded = Either.getOrThrow(encodeChanges(changes))
    changes = []
    bytes = 0
    return encoded
  }
  for (const [key, entry] of snapshot.entries) {
    const json = JSON.stringify(entry.value)
    changes.push({ _tag: "Put", key, value: entry.value, json, version: entry.version, expiresAt: entry.expiresAt })
    bytes += key.length + json.length
    if (bytes >= chunkBytes) yield flush()
  }
  if (changes.length > 0) yield flush()
}

/** A put or delete as read back; values stay JSON text until parsed. */
export type DecodedPut = { readonly _tag: "Put"; readonly key: string; readonly json: string; readonly expiresAt: number | undefined }
export type DecodedDelete = { readonly _tag: "Delete"; readonly key: string }

/** A record as read back, with `end`, where the next starts. */
export type Decoded =
  & { readonly end: number; readonly sequence: number }
  & (
    | DecodedPut
    | DecodedDelete
    | { readonly _tag: "Clear" }
    | { readonly _tag: "Expire"; readonly key: string }
    | { readonly _tag: "Touch"; readonly key: string; readonly expiresAt: number | undefined }
    | { readonly _tag: "Atomic"; readonly changes: ReadonlyArray<DecodedPut | DecodedDelete> }
    | { readonly _tag: "Snapshot"; readonly count: number }
  )

/** A length-prefixed string at `at`, ending by `end`: the string and where it ends, or `undefined`. */
const readSized = (bytes: Buffer, at: number, end: number): readonly [string, number] | undefined => {
  if (at + 4 > end) return undefined
  const stop = at + 4 + bytes.readUInt32LE(at)
  return stop > end ? undefined : [bytes.toString("utf8", at + 4, stop), stop]
}

/** A put inside an atomic record, from `at` (expiry if `withExpiry`, sized key and JSON), and where it ends. */
const readInnerPut = (bytes: Buffer, at: number, end: number, withExpiry: boolean): readonly [DecodedPut, number] | string => {
  let expiresAt: number | undefined
  if (withExpiry) {
    if (at + 8 > end) return "put record too short"
    expiresAt = bytes.readDoubleLE(at)
    at += 8
  }
  const key = readSized(bytes, at, end)
  if (key === undefined) return "key longer than its record"
  const json = readSized(bytes, key[1], end)
  if (json === undefined) return "value longer than its record"
  return [{ _tag: "Put", key: key[0], json: json[0], expiresAt }, json[1]]
}

/** The changes of an atomic record's payload, from `at` to `end`. */
const readAtomic = (bytes: Buffer, at: number, end: number): ReadonlyArray<DecodedPut | DecodedDelete> | string => {
  if (at + 4 > end) return "atomic record too short"
  const count = bytes.readUInt32LE(at)
  at += 4
  const changes: Array<DecodedPut | DecodedDelete> = []
  for (let i = 0; i < count; i++) {
    if (at >= end) return "atomic record holds fewer changes than it announces"
    const kind = bytes[at]
    if (kind === DeleteKind) {
      const key = readSized(bytes, at + 1, end)
      if (key === undefined) return "key longer than its record"
      changes.push({ _tag: "Delete", key: key[0] })
      at = key[1]
    } else if (kind === PutKind || kind === PutWithExpiryKind) {
      const put = readInnerPut(bytes, at + 1, end, kind === PutWithExpiryKind)
      if (typeof put === "string") return put
      changes.push(put[0])
      at = put[1]
    } else return `unknown kind ${kind} inside an atomic record`
  }
  return at === end ? changes : `${end - at} bytes after the last change of an atomic record`
}

/**
 * A number stored as two u32 LE halves. Below 2^31 it is made a small integer (`| 0`): a sum with
 * a product by 2^32 comes out of optimised code as a boxed double, and one such version stored in
 * an entry turns that field into a double in every entry (a 16-byte box each, 1M at 1M keys).
 */
const readUInt64 = (bytes: Buffer, at: number): number => {
  const value = bytes.readUInt32LE(at) + bytes.readUInt32LE(at + 4) * high
  return value <= 0x7fffffff ? value | 0 : value
}

/**
 * The value of the put record (kind 1 or 5) at `start`, which {@link decodeAt} has already
 * checked: `f` of its JSON, its sequence number and its expiry, with no object made on the way.
 */
export const readPutValue = <A>(
  bytes: Buffer,
  start: number,
  f: (json: string, sequence: number, expiresAt: number | undefined) => A
): A => {
  const at = start + headerBytes
  const withExpiry = bytes[at] === PutWithExpiryKind
  const keyAt = at + kindBytes + (withExpiry ? 8 : 0)
  return f(
    bytes.toString("utf8", keyAt + 4 + bytes.readUInt32LE(keyAt), at + bytes.readUInt32LE(start)),
    readUInt64(bytes, at + 1),
    withExpiry ? bytes.readDoubleLE(at + kindBytes) : undefined
  )
}

/**
 * Reads the record starting at `start` of `bytes`: the record, or why there is none (a string).
 * Without `values`, a put's `json` is left empty (`""`): a replay reads the values it keeps later,
 * with {@link readPutValue}, only once it knows which are the keys' last.
 */
export const decodeAt = (bytes: Buffer, start: number, values = true): Decoded | string => {
  if (bytes.length - start < headerBytes) return "record header cut short"
  const length = bytes.readUInt32LE(start)
  if (length < kindBytes || length > maxPayloadBytes) return `impossible record length ${length}`
  const at = start + headerBytes
  const end = at + length
  if (end > bytes.length) return "record cut short"
  if (crc32(bytes.subarray(at, end)) !== bytes.readUInt32LE(start + 4)) return "checksum mismatch"
  const kind = bytes[at]
  const sequence = readUInt64(bytes, at + 1)
  const body = at + kindBytes
  switch (kind) {
    case PutKind:
    case PutWithExpiryKind: {
      // Inline rather than `readPut`: one object per record, as reopening a big log reads millions.
      let keyAt = body
      let expiresAt: number | undefined
      if (kind === PutWithExpiryKind) {
        if (keyAt + 8 > end) return "put record too short"
        expiresAt = bytes.readDoubleLE(keyAt)
        keyAt += 8
      }
      if (keyAt + 4 > end) return "put record too short"
      const keyEnd = keyAt + 4 + bytes.readUInt32LE(keyAt)
      if (keyEnd > end) return "key longer than its record"
      const key = bytes.toString("utf8", keyAt + 4, keyEnd)
      return { _tag: "Put", end, sequence, key, json: values ? bytes.toString("utf8", keyEnd, end) : "", expiresAt }
    }
    case DeleteKind:
      return { _tag: "Delete", end, sequence, key: bytes.toString("utf8", body, end) }
    case ExpireKind:
      return { _tag: "Expire", end, sequence, key: bytes.toString("utf8", body, end) }
    case ClearKind:
      return { _tag: "Clear", end, sequence }
    case TouchKind: {
      if (length < kindBytes + 9) return "touch record too short"
      const expiresAt = bytes[body] === 1 ? bytes.readDoubleLE(body + 1) : undefined
      return { _tag: "Touch", end, sequence, key: bytes.toString("utf8", body + 9, end), expiresAt }
    }
    case AtomicKind: {
      const changes = readAtomic(bytes, body, end)
      return typeof changes === "string" ? changes : { _tag: "Atomic", end, sequence, changes }
    }
    case SnapshotHeaderKind:
      if (length !== kindBytes + 8) return "snapshot header of the wrong size"
      return {
        _tag: "Snapshot",
        end,
        sequence,
        count: readUInt64(bytes, body)
      }
    default:
      return `unknown record kind ${kind}`
  }
}
