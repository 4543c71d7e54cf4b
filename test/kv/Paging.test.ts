/**
 * Paging through `keys`, `entries` and `exportStore` (served from the store's sorted key index)
 * gives exactly what a sorted model of the store holds, with any prefix, cursor and page size,
 * through a seeded random run of puts, deletes, expiries, clears, atomic writes and restarts of
 * the store from its log on disk; and a reopened store holds the same state as before.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Exit, Layer, Option, Scope, TestClock } from "effect"
import { KV, type KVService } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { tempDir } from "../storage/fixtures/TempDir.js"

interface ModelEntry {
  readonly value: unknown
  readonly expiresAt: number | undefined
}

/** `KV` on files in `dataDir`, built in a scope of its own: closing it stops every store. */
const open = (dataDir: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const storage = Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer))
    const context = yield* Layer.buildWithScope(KV.layerFrom(storage), scope)
    return { kv: Context.get(context, KV), close: Scope.close(scope, Exit.void) }
  })

/** Every key with `prefix`, a page of `limit` at a time, each page's `next` as the following `after`. */
const pageAll = (kv: KVService, prefix: string, limit: number) =>
  Effect.gen(function*() {
    const keys: Array<string> = []
    const values: Array<unknown> = []
    let after: string | undefined
    for (;;) {
      const page = yield* kv.keys("s", { prefix, limit, ...(after === undefined ? {} : { after }) })
      const entries = yield* kv.entries("s", { prefix, limit, ...(after === undefined ? {} : { after }) })
      expect(entries.entries.map((entry) => entry.key)).toEqual(page.keys)
      expect(entries.next).toEqual(page.next)
      expect(page.keys.length).toBeLessThanOrEqual(limit)
      keys.push(...page.keys)
      values.push(...entries.entries.map((entry) => entry.value))
      if (Option.isNone(page.next)) return { keys, values }
      expect(page.keys.length).toBe(limit)
      after = page.next.value
    }
  })

describe("paging", () => {
  it.scoped("keys, entries and exportStore page a store as a sorted model holds it, through writes, expiries, clears and restarts", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      let store = yield* open(dataDir)
      const model = new Map<string, ModelEntry>()
      let seed = 20261130
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648
        return Math.floor((seed / 2147483648) * n)
      }
      // A few hundred keys of a few letters: pages cross node boundaries, prefixes overlap.
      const keyOf = () => ["a", "ab", "b", "ba", "c"][random(5)]! + String(random(150))
      const live = (now: number) =>
        [...model].filter(([, entry]) => entry.expiresAt === undefined || entry.expiresAt > now).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0
        )

      const check = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expected = live(now)
        for (const prefix of ["", "a", "ab", "b1", "c9", "z"]) {
          const limit = 1 + random(40)
          const paged = yield* pageAll(store.kv, prefix, limit)
          const wanted = expected.filter(([key]) => key.startsWith(prefix))
          expect(paged.keys).toEqual(wanted.map(([key]) => key))
          expect(paged.values).toEqual(wanted.map(([, entry]) => entry.value))
        }
        // A cursor that is not a key, before and inside the prefix.
        const after = keyOf() + "x"
        const page = yield* store.kv.keys("s", { after, limit: 7 })
        expect(page.keys).toEqual(expected.map(([key]) => key).filter((key) => key > after).slice(0, 7))
        const exported = yield* store.kv.exportStore("s")
        expect([...exported.entries].map(([key, entry]) => [key, entry.value])).toEqual(
          expected.map(([key, entry]) => [key, entry.value])
        )
        expect(exported.size).toBe(expected.length)
      })

      for (let step = 0; step < 400; step++) {
        const now = yield* Clock.currentTimeMillis
        const roll = random(100)
        const key = keyOf()
        if (roll < 45) {
          const ttl = random(4) === 0 ? 1000 * (1 + random(60)) : undefined
          yield* store.kv.put("s", key, step, ttl === undefined ? {} : { ttl: `${ttl} millis` })
          model.set(key, { value: step, expiresAt: ttl === undefined ? undefined : now + ttl })
        } else if (roll < 65) {
          yield* store.kv.delete("s", key)
          model.delete(key)
        } else if (roll < 75) {
          const other = keyOf()
          yield* store.kv.atomic("s", { ops: [{ op: "put", key, value: -step }, { op: "delete", key: other }] })
          model.set(key, { value: -step, expiresAt: undefined })
          if (other !== key) model.delete(other)
          else model.delete(key)
        } else if (roll < 82) {
          const found = yield* store.kv.expire("s", key, "30 seconds")
          const current = model.get(key)
          if (current !== undefined && (current.expiresAt === undefined || current.expiresAt > now)) {
            expect(Option.isSome(found)).toBe(true)
            model.set(key, { value: current.value, expiresAt: now + 30_000 })
          }
        } else if (roll < 92) {
          yield* TestClock.adjust(`${1000 * (1 + random(40))} millis`)
        } else if (roll < 94) {
          yield* store.kv.clear("s")
          model.clear()
        } else {
          // A restart from the log: the same state, the index built again. The version may move on:
          // keys that fell due and were not expired yet are expired at once on reopen.
          const before = yield* store.kv.exportStore("s")
          const state = [...before.entries]
          yield* store.close
          store = yield* open(dataDir)
          const after = yield* store.kv.exportStore("s")
          expect([...after.entries]).toEqual(state)
          expect(after.version).toBeGreaterThanOrEqual(before.version)
        }
        if (step % 10 === 0) yield* check
      }
      yield* check
      yield* store.close
    }), { timeout: 120_000 })

  it.scoped("an export is the store as of its version: writes after it do not change what it walks", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const { close, kv } = yield* open(dataDir)
      for (let i = 0; i < 300; i++) yield* kv.put("s", `k${String(i).padStart(3, "0")}`, i)
      const exported = yield* kv.exportStore("s")
      yield* kv.delete("s", "k000")
      yield* kv.put("s", "k1000", 1)
      yield* kv.put("s", "a", 1)
      yield* kv.clear("s")
      const keys = [...exported.entries].map(([key]) => key)
      expect(keys).toEqual(Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, "0")}`))
      expect(exported.size).toBe(300)
      expect((yield* kv.keys("s")).keys).toEqual([])
      yield* close
    }))
})
