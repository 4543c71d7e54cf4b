/**
 * The same behaviour from every `Storage`: memory and file storage pass the same tests. The same
 * through `KV` is in `test/kv/KV.test.ts`, which runs on both.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import { type Change, emptySnapshot, type Snapshot } from "../../src/storage/Change.js"
import * as Storage from "../../src/storage/Storage.js"
import { after, put } from "./fixtures/Changes.js"
import { onTempDir } from "./fixtures/TempDir.js"

const implementations: ReadonlyArray<readonly [string, Layer.Layer<Storage.Storage, unknown>]> = [
  ["memory", Storage.layerMemory],
  ["file", onTempDir((dataDir) => Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer)))]
]


/** Opens `store`, appends `changes` in batches, and closes it; returns the final state. */
const write = (store: string, batches: ReadonlyArray<ReadonlyArray<Change>>) =>
  Effect.scoped(Effect.gen(function*() {
    const storage = yield* Storage.Storage
    // Memory storage keeps as many recent changes as an open asked for.
    const log = yield* storage.open(store, { history: 100 })
    let state = log.recovered
    for (const batch of batches) {
      state = after(state, batch)
      yield* log.append(batch, state)
    }
    return state
  }))

const recovered = (store: string) =>
  Effect.scoped(Effect.flatMap(Storage.Storage, (storage) => Effect.map(storage.open(store), (log) => log.recovered)))

const recentOf = (store: string, history: number) =>
  Effect.scoped(Effect.flatMap(Storage.Storage, (storage) => Effect.map(storage.open(store, { history }), (log) => log.recent)))

/** Every kind of change, in batches: versions 1 to 12. */
const everyKind: ReadonlyArray<ReadonlyArray<Change>> = [
  [put("a", 1, 1, 1_000), put("b", "b", 2), put("c", [3], 3, 5.5)],
  [{ _tag: "Touch", key: "a", version: 4, expiresAt: 2_000 }, { _tag: "Touch", key: "c", version: 5, expiresAt: undefined }],
  [{ _tag: "Expire", key: "b", version: 6 }, { _tag: "Touch", key: "absent", version: 7, expiresAt: 9 }],
  [{
    _tag: "Atomic",
    version: 8,
    changes: [
      put("d", { d: "é" }, 8, 3_000),
      { _tag: "Delete", key: "a", version: 8 },
      put("e", null, 8),
      put("d", { d: "last" }, 8, 4_000)
    ]
  }],
  [{ _tag: "Touch", key: "d", version: 9, expiresAt: 1_764_512_345_678 }, put("f", "f", 10, 7)],
  [{ _tag: "Atomic", version: 11, changes: [] }, { _tag: "Delete", key: "f", version: 12 }]
]

/** What `everyKind` leaves. */
const everyKindState = {
  c: { value: [3], version: 5, expiresAt: undefined },
  d: { value: { d: "last" }, version: 9, expiresAt: 1_764_512_345_678 },
  e: { value: null, version: 8, expiresAt: undefined }
}

const entriesOf = (snapshot: Snapshot) => Object.fromEntries(HashMap.toEntries(snapshot.entries))

for (const [name, storageLayer] of implementations) {
  describe(`Storage contract: ${name}`, () => {
    layer(storageLayer)((it) => {
      it.effect("a store never written recovers empty", () =>
        Effect.gen(function*() {
          expect(yield* recovered("never")).toEqual(emptySnapshot)
        }))

      it.effect("reopening recovers every appended change and the sequence", () =>
        Effect.gen(function*() {
          const state = yield* write("reopen", [
            [put("a", 1, 1), put("b", { x: [1, "é"] }, 2)],
            [{ _tag: "Delete", key: "a", version: 3 }, put("c", null, 4)],
            [{ _tag: "Clear", version: 5 }, put("d", "after clear", 6)]
          ])
          const back = yield* recovered("reopen")
          expect(back.sequence).toBe(6)
          expect(entriesOf(back)).toEqual(entriesOf(state))
          expect(entriesOf(back)).toEqual({ d: { value: "after clear", version: 6 } })
        }))

      it.effect("every kind of change recovers: expiries, touches, expire, atomic writes", () =>
        Effect.gen(function*() {
          const state = yield* write("kinds", everyKind)
          expect(entriesOf(state)).toStrictEqual(everyKindState)
          const back = yield* recovered("kinds")
          expect(back.sequence).toBe(12)
          expect(entriesOf(back)).toStrictEqual(everyKindState)
        }))

      it.effect("compaction keeps expiries, and changes after it apply to the snapshot's entries", () =>
        Effect.gen(function*() {
          yield* write("kinds-compacted", everyKind)
          yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* (yield* Storage.Storage).open("kinds-compacted")
            yield* log.compact
            const touched = after(log.recovered, [
              { _tag: "Touch", key: "c", version: 13, expiresAt: 42 },
              { _tag: "Touch", key: "d", version: 14, expiresAt: undefined }
            ])
            yield* log.append([
              { _tag: "Touch", key: "c", version: 13, expiresAt: 42 },
              { _tag: "Touch", key: "d", version: 14, expiresAt: undefined }
            ], touched)
          }))
          expect(entriesOf(yield* recovered("kinds-compacted"))).toStrictEqual({
            c: { value: [3], version: 13, expiresAt: 42 },
            d: { value: { d: "last" }, version: 14, expiresAt: undefined },
            e: everyKindState.e
          })
        }))

      it.effect("recent: the last changes after the snapshot, oldest first, values parsed; none unless asked", () =>
        Effect.gen(function*() {
          yield* write("recent", everyKind)
          const all = everyKind.flat()
          expect(yield* recentOf("recent", 0)).toEqual([])
          expect(yield* recentOf("recent", 3)).toEqual(all.slice(-3))
          expect(yield* recentOf("recent", 100)).toEqual(all)
          // A compaction leaves no changes after its snapshot; later ones count again.
          yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* (yield* Storage.Storage).open("recent", { history: 100 })
            yield* log.compact
            const next = put("g", { g: 1 }, 13)
            yield* log.append([next], after(log.recovered, [next]))
          }))
          expect(yield* recentOf("recent", 5)).toEqual([put("g", { g: 1 }, 13)])
        }))

      it.effect("recent weighs at most historyBytes (keys and values' JSON), the newest change whatever it weighs", () =>
        Effect.gen(function*() {
          const big = (key: string, version: number) => put(key, "x".repeat(98), version) // weighs 101
          yield* write("weighed", [[big("a", 1), big("b", 2)], [big("c", 3)], [big("d", 4)]])
          const weighed = (history: number, historyBytes: number) =>
            Effect.scoped(Effect.flatMap(Storage.Storage, (storage) =>
              Effect.map(storage.open("weighed", { history, historyBytes }), (log) => log.recent.map((change) => change.version))))
          expect(yield* weighed(10, 250)).toEqual([3, 4])
          expect(yield* weighed(1, 250)).toEqual([4])
          expect(yield* weighed(10, 10)).toEqual([4])
          expect(yield* weighed(10, 1_000)).toEqual([1, 2, 3, 4])
        }))

      it.effect("recover on a healthy log succeeds at once, and appends go on", () =>
        Effect.gen(function*() {
          yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* (yield* Storage.Storage).open("healthy")
            yield* log.recover
            yield* log.append([put("k", 1, 1)], after(log.recovered, [put("k", 1, 1)]))
            yield* log.recover
          }))
          expect(entriesOf(yield* recovered("healthy"))).toEqual({ k: { value: 1, version: 1 } })
        }))

      it.effect("compaction keeps the state", () =>
        Effect.gen(function*() {
          const state = yield* write("compacted", [[put("a", 1, 1), put("a", 2, 2), put("b", 3, 3)]])
          yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* (yield* Storage.Storage).open("compacted")
            yield* log.compact
            yield* log.append([put("c", 4, 4)], after(state, [put("c", 4, 4)]))
          }))
          const back = yield* recovered("compacted")
          expect(back.sequence).toBe(4)
          expect(entriesOf(back)).toEqual({ ...entriesOf(state), c: { value: 4, version: 4 } })
        }))

      it.effect("stores lists the stores holding data, sorted; drop forgets one", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          yield* write("list-b", [[put("k", 1, 1)]])
          yield* write("list-A", [[put("k", 1, 1)]])
          yield* write("list-emptied", [[put("k", 1, 1)], [{ _tag: "Clear", version: 2 }]])
          const listed = (yield* storage.stores).filter((store) => store.startsWith("list-"))
          expect(listed).toEqual(["list-A", "list-b"])
          yield* storage.drop("list-b")
          expect(yield* storage.stores).not.toContain("list-b")
          expect(yield* recovered("list-b")).toEqual(emptySnapshot)
          // An emptied store keeps its sequence: versions never repeat.
          expect((yield* recovered("list-emptied")).sequence).toBe(2)
        }))
    })
  })
}

describe("memory storage", () => {
  layer(Storage.layerMemory)((it) => {
    it.effect("keeps no more of a store's changes than its opens asked for, by weight too: large values are let go", () =>
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* storage.open("heavy", { history: 10_000, historyBytes: 1_000 })
          let state = log.recovered
          for (let version = 1; version <= 100; version++) {
            const change = put(`k${version}`, "x".repeat(98), version) // weighs 101
            state = after(state, [change])
            yield* log.append([change], state)
          }
        }))
        // An open that asks for every change gets what was kept: under twice the bound, the newest.
        const kept = yield* Effect.scoped(Effect.map(storage.open("heavy", { history: 10_000 }), (log) => log.recent))
        expect(kept.length).toBeGreaterThanOrEqual(9)
        expect(kept.length).toBeLessThan(20)
        expect(kept[kept.length - 1]!.version).toBe(100)
      }))
  })
})
