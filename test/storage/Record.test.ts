/**
 * The record format: every kind of change encodes and decodes back, a data folder written by
 * 0.1.0 (kinds 1–4 only) reads unchanged, values the log overwrote are never parsed, and a record
 * larger than a reader accepts is refused before anything is written.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import { type Change, emptySnapshot, type Put, type Snapshot } from "../../src/storage/Change.js"
import { type Decoded, decodeAt, encodeChanges, maxPayloadBytes, readPutValue } from "../../src/storage/internal/record.js"
import { replayLog } from "../../src/storage/internal/recovery.js"
import * as Storage from "../../src/storage/Storage.js"
import { verify } from "../../src/storage/Verify.js"
import { after, put } from "./fixtures/Changes.js"
import { tempDir } from "./fixtures/TempDir.js"

/** Every record of `bytes`, in order. */
const decodeAll = (bytes: Buffer): Array<Decoded> => {
  const records: Array<Decoded> = []
  for (let offset = 0; offset < bytes.length;) {
    const record = decodeAt(bytes, offset)
    if (typeof record === "string") throw new Error(`${record} at ${offset}`)
    records.push(record)
    offset = record.end
  }
  return records
}

const encode = (changes: ReadonlyArray<Change>) => Either.getOrThrow(encodeChanges(changes))

describe("record format", () => {
  it("every kind of change encodes and decodes back", () => {
    const changes: Array<Change> = [
      put("plain", { a: [1, "é"] }, 1),
      put("🔑 with expiry", "v", 2, 1_764_512_345_678.5),
      { _tag: "Delete", key: "d", version: 3 },
      { _tag: "Clear", version: 2 ** 40 },
      { _tag: "Expire", key: "gone", version: 2 ** 40 + 1 },
      { _tag: "Touch", key: "t", version: 6, expiresAt: 99 },
      { _tag: "Touch", key: "persisted", version: 7, expiresAt: undefined },
      {
        _tag: "Atomic",
        version: 8,
        changes: [put("x", 1, 8), { _tag: "Delete", key: "y", version: 8 }, put("z", "ζ", 8, 5), put("", "", 8)]
      },
      { _tag: "Atomic", version: 9, changes: [] }
    ]
    const decoded = decodeAll(encode(changes)).map(({ end: _end, ...record }) => record)
    expect(decoded).toStrictEqual([
      { _tag: "Put", sequence: 1, key: "plain", json: `{"a":[1,"é"]}`, expiresAt: undefined },
      { _tag: "Put", sequence: 2, key: "🔑 with expiry", json: `"v"`, expiresAt: 1_764_512_345_678.5 },
      { _tag: "Delete", sequence: 3, key: "d" },
      { _tag: "Clear", sequence: 2 ** 40 },
      { _tag: "Expire", sequence: 2 ** 40 + 1, key: "gone" },
      { _tag: "Touch", sequence: 6, key: "t", expiresAt: 99 },
      { _tag: "Touch", sequence: 7, key: "persisted", expiresAt: undefined },
      {
        _tag: "Atomic",
        sequence: 8,
        changes: [
          { _tag: "Put", key: "x", json: "1", expiresAt: undefined },
          { _tag: "Delete", key: "y" },
          { _tag: "Put", key: "z", json: `"ζ"`, expiresAt: 5 },
          { _tag: "Put", key: "", json: `""`, expiresAt: undefined }
        ]
      },
      { _tag: "Atomic", sequence: 9, changes: [] }
    ])
  })

  it.scoped("a data folder written by 0.1.0 reads unchanged, and verifies whole", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      fs.cpSync(path.join(import.meta.dirname, "fixtures", "data-0.1.0"), dataDir, { recursive: true })
      const report = yield* verify(dataDir).pipe(Effect.provide(NodeFileSystem.layer))
      expect(report.ok).toBe(true)
      expect(report.files.map((file) => file.status._tag)).toEqual(["Ok", "Ok", "Ok"])
      const [compacted, log] = yield* Effect.scoped(Effect.gen(function*() {
        const storage = Context.get(yield* Layer.build(Storage.layerFile({ dataDir })), Storage.Storage)
        return yield* Effect.forEach(["compacted", "log"], (store) =>
          Effect.map(storage.open(store, { history: 10 }), (opened) => ({
            sequence: opened.recovered.sequence,
            entries: Object.fromEntries(HashMap.toEntries(opened.recovered.entries)),
            recent: opened.recent.map((change) => change._tag)
          })))
      })).pipe(Effect.provide(NodeFileSystem.layer))
      const text = "é\n\""
      expect(compacted).toStrictEqual({
        sequence: 8,
        entries: {
          k0: { value: { i: 0, text }, version: 1, expiresAt: undefined },
          k2: { value: "after the snapshot", version: 7, expiresAt: undefined },
          k4: { value: { i: 4, text }, version: 5, expiresAt: undefined }
        },
        recent: ["Put", "Delete"]
      })
      expect(log).toStrictEqual({
        sequence: 6,
        entries: { c: { value: { nested: { x: "y" } }, version: 4, expiresAt: undefined } },
        recent: ["Put", "Put", "Clear", "Put", "Put", "Delete"]
      })
    }))

  it("a value the log overwrote is never parsed, whether overwritten by a put, an atomic write or an expiry", () => {
    const broken = (key: string, version: number): Put => ({ ...put(key, 0, version), json: "not json" })
    const log = encode([
      broken("a", 1),
      broken("b", 2),
      broken("c", 3),
      put("a", "fine", 4),
      { _tag: "Atomic", version: 5, changes: [put("b", "fine", 5)] },
      { _tag: "Expire", key: "c", version: 6 },
      { _tag: "Touch", key: "a", version: 7, expiresAt: 10 }
    ])
    const replay = Either.getOrThrow(replayLog(log, "log", emptySnapshot))
    expect(Object.fromEntries(HashMap.toEntries(replay.state.entries))).toStrictEqual({
      a: { value: "fine", version: 7, expiresAt: 10 },
      b: { value: "fine", version: 5, expiresAt: undefined }
    })
    // The value a key holds at the end must be JSON: that is corruption, named by offset.
    const bad = Either.flip(replayLog(encode([broken("a", 1)]), "log", emptySnapshot))
    expect(Either.getOrThrow(bad)).toMatchObject({ _tag: "CorruptLog", file: "log", offset: 0 })
  })

  it("a record larger than a reader accepts is refused before anything is written", () => {
    const json = "x".repeat(1024 * 1024) // one string, shared: no large allocation
    const changes = Array.from({ length: 300 }, (_, i): Put => ({ ...put(`k${i}`, 0, 1), json }))
    const encoded = encodeChanges([{ _tag: "Atomic", version: 1, changes }])
    expect(Either.isLeft(encoded)).toBe(true)
    expect(Either.flip(encoded).pipe(Either.getOrThrow)).toContain(`over the ${maxPayloadBytes} a record may have`)
  })
})

/** A change to one of a few keys at `version` (an atomic one's inner changes share it). */
const changeArbitrary = (version: number): fc.Arbitrary<Change> => {
  const key = fc.constantFrom("a", "b", "c", "d")
  const expiresAt = fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined })
  const putOf = fc.tuple(key, fc.integer(), expiresAt).map(([k, value, at]) => put(k, value, version, at))
  return fc.oneof(
    { weight: 4, arbitrary: putOf },
    fc.tuple(key, fc.constantFrom("Delete" as const, "Expire" as const)).map(([k, tag]) => ({ _tag: tag, key: k, version })),
    fc.constant({ _tag: "Clear" as const, version }),
    { weight: 2, arbitrary: fc.tuple(key, expiresAt).map(([k, at]) => ({ _tag: "Touch" as const, key: k, version, expiresAt: at })) },
    fc.array(fc.oneof(putOf, key.map((k) => ({ _tag: "Delete" as const, key: k, version }))), { maxLength: 3 })
      .map((changes) => ({ _tag: "Atomic" as const, version, changes }))
  )
}

/** Up to 30 changes, at versions 1, 2, 3, … */
const changesArbitrary = fc.integer({ min: 0, max: 30 }).chain((count) =>
  count === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: count }, (_, i) => changeArbitrary(i + 1)))
)

const sorted = (snapshot: Snapshot) => [...snapshot.entries].sort(([a], [b]) => (a < b ? -1 : 1))

describe("log replay", () => {
  it("replays to the state its changes add up to, on no snapshot or on one that covers the first changes", () =>
    fc.assert(fc.property(changesArbitrary, changesArbitrary, fc.nat(30), (log, before, covered) => {
      // The snapshot's own entries (`before`, folded) stand for what the first `covered` changes left.
      const base = { ...after(emptySnapshot, before), sequence: covered }
      const expected = after(base, log.filter((change) => change.version > covered))
      const replay = Either.getOrThrow(replayLog(encode(log), "log", base))
      expect(sorted(replay.state)).toStrictEqual(sorted(expected))
      // It may say a deadline is there when none is left, never the other way round.
      if (!replay.state.anyExpiry) expect(sorted(expected).every(([, entry]) => entry.expiresAt === undefined)).toBe(true)
    })))

  it("reads sequence numbers below 2^31 as small integers, as the store's own counter makes them", () => {
    // A boxed double stored once as an entry's version makes that field a double in every entry:
    // a 16-byte box per key. Natives syntax is the only way to see the difference.
    v8.setFlagsFromString("--allow-natives-syntax")
    const isSmallInteger = new Function("value", "return %IsSmi(value)") as (value: number) => boolean
    const bytes = encode([put("a", "x", 7), put("b", "y", 2 ** 40, 5)])
    const first = decodeAt(bytes, 0)
    expect(typeof first !== "string" && isSmallInteger(first.sequence)).toBe(true)
    expect(readPutValue(bytes, 0, (_, sequence) => isSmallInteger(sequence))).toBe(true)
    expect(readPutValue(bytes, typeof first === "string" ? 0 : first.end, (json, sequence, expiresAt) => [json, sequence, expiresAt]))
      .toStrictEqual([`"y"`, 2 ** 40, 5])
  })
})
