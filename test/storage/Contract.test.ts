/**
 * The same behaviour from every `Storage`: memory and file storage pass the same tests. The same
 * through `KV` is in `test/kv/KV.test.ts`, which runs on both.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import { applyChange, type Change, emptySnapshot, type Snapshot } from "../../src/storage/Change.js"
import * as Storage from "../../src/storage/Storage.js"
import { onTempDir } from "./fixtures/TempDir.js"

const implementations: ReadonlyArray<readonly [string, Layer.Layer<Storage.Storage, unknown>]> = [
  ["memory", Storage.layerMemory],
  ["file", onTempDir((dataDir) => Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer)))]
]

/** The state `changes` lead to from `from`. */
const after = (from: Snapshot, changes: ReadonlyArray<Change>): Snapshot => {
  let entries = HashMap.beginMutation(from.entries)
  for (const change of changes) entries = applyChange(entries, change)
  return { entries: HashMap.endMutation(entries), sequence: changes.at(-1)?.version ?? from.sequence }
}

const put = (key: string, value: unknown, version: number): Change => ({
  _tag: "Put",
  key,
  value,
  json: JSON.stringify(value),
  version
})

/** Opens `store`, appends `changes` in batches, and closes it; returns the final state. */
const write = (store: string, batches: ReadonlyArray<ReadonlyArray<Change>>) =>
  Effect.scoped(Effect.gen(function*() {
    const storage = yield* Storage.Storage
    const log = yield* storage.open(store)
    let state = log.recovered
    for (const batch of batches) {
      state = after(state, batch)
      yield* log.append(batch, state)
    }
    return state
  }))

const recovered = (store: string) =>
  Effect.scoped(Effect.flatMap(Storage.Storage, (storage) => Effect.map(storage.open(store), (log) => log.recovered)))

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
