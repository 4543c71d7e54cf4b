/**
 * The sorted key index under a store's pages: after any run of inserts, removes and clears, in
 * batches, it holds exactly the keys of a sorted model, walks them in order from any point, and
 * every earlier version stays as it was (a reader may page from it while the store writes on).
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Index from "../../src/kv/internal/keyIndex.js"

const all = (index: Index.KeyIndex) => [...Index.keysFrom(index, undefined, false)]

type Op = { readonly op: "insert" | "remove"; readonly key: string } | { readonly op: "clear" }

// Few distinct keys of a few letters: inserts and removes meet the same keys, prefixes overlap.
const key = FastCheck.stringMatching(/^[a-c]{0,4}$/)
const op: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  { weight: 6, arbitrary: key.map((key) => ({ op: "insert" as const, key })) },
  { weight: 3, arbitrary: key.map((key) => ({ op: "remove" as const, key })) },
  { weight: 1, arbitrary: FastCheck.constant({ op: "clear" as const }) }
)

const applyBatch = (index: Index.KeyIndex, model: Set<string>, batch: ReadonlyArray<Op>) => {
  const editor = new Index.Editor(index)
  for (const change of batch) {
    if (change.op === "insert") {
      editor.insert(change.key)
      model.add(change.key)
    } else if (change.op === "remove") {
      editor.remove(change.key)
      model.delete(change.key)
    } else {
      editor.clear()
      model.clear()
    }
  }
  return editor.done()
}

describe("KeyIndex", () => {
  it("holds the keys of a sorted model through batches of changes, and earlier versions do not change", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.array(FastCheck.array(op, { maxLength: 200 }), { maxLength: 20 }), key, key, (batches, from, until) => {
        let index = Index.empty
        const model = new Set<string>()
        const versions: Array<readonly [Index.KeyIndex, ReadonlyArray<string>]> = []
        for (const batch of batches) {
          index = applyBatch(index, model, batch)
          const sorted = [...model].sort()
          expect(all(index)).toEqual(sorted)
          expect([...Index.keysFrom(index, from, false)]).toEqual(sorted.filter((k) => k >= from))
          expect([...Index.keysFrom(index, from, true)]).toEqual(sorted.filter((k) => k > from))
          expect([...Index.keysFrom(index, from, false, until)]).toEqual(sorted.filter((k) => k >= from && k < until))
          expect([...Index.keysFrom(index, from, true, until)]).toEqual(sorted.filter((k) => k > from && k < until))
          expect([...Index.keysFrom(index, undefined, false, until)]).toEqual(sorted.filter((k) => k < until))
          versions.push([index, sorted])
        }
        for (const [version, sorted] of versions) expect(all(version)).toEqual(sorted)
      }),
      { numRuns: 200 }
    )
  })

  it("prefixEnd bounds exactly the strings with the prefix", () => {
    const text = FastCheck.string({ unit: FastCheck.constantFrom("a", "b", "\uffff", "\u0000"), maxLength: 4 })
    FastCheck.assert(
      FastCheck.property(text, text, (prefix, key) => {
        const end = Index.prefixEnd(prefix)
        expect(key.startsWith(prefix)).toBe(key >= prefix && (end === undefined || key < end))
      }),
      { numRuns: 2000 }
    )
  })

  it("splits and merges nodes: 20,000 keys in random order in batches, then most removed, stay sorted", () => {
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${String(i).padStart(6, "0")}`)
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[keys[i], keys[j]] = [keys[j]!, keys[i]!]
    }
    let index = Index.empty
    const model = new Set<string>()
    for (let start = 0; start < keys.length; start += 1000) {
      index = applyBatch(index, model, keys.slice(start, start + 1000).map((key) => ({ op: "insert", key })))
    }
    const full = index
    expect(all(index)).toEqual([...model].sort())
    for (let start = 0; start < 19_000; start += 500) {
      index = applyBatch(index, model, keys.slice(start, start + 500).map((key) => ({ op: "remove", key })))
      expect(all(index).length).toBe(model.size)
    }
    expect(all(index)).toEqual([...model].sort())
    expect(all(full)).toEqual([...keys].sort())
    expect(all(Index.fromKeys([...model]))).toEqual([...model].sort())
  })
})
