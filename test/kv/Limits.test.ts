/**
 * Values are JSON, exactly: what would not read back the same after a reopen is refused with
 * `InvalidValue` naming where it is, and what is taken reads back the same before and after.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { KV } from "../../src/kv/KV.js"
import { checkJsonText, defaultLimits, encodeValue } from "../../src/kv/Limits.js"
import { tempDir } from "../storage/fixtures/TempDir.js"

class Point {
  constructor(readonly x: number, readonly y: number) {}
}

const cyclic: Record<string, unknown> = { a: [1] }
;(cyclic["a"] as Array<unknown>).push({ back: cyclic })

const cyclicBehindToJSON: Record<string, unknown> = { toJSON: () => 1 }
cyclicBehindToJSON["self"] = cyclicBehindToJSON

const sparse: Array<unknown> = [1, 2]
sparse[3] = 4

const refused: ReadonlyArray<readonly [name: string, value: unknown, path: string, reason: RegExp]> = [
  ["NaN", { n: Number.NaN }, "$.n", /NaN is not a JSON number/],
  ["Infinity", [1, Number.POSITIVE_INFINITY], "$[1]", /Infinity is not a JSON number/],
  ["-Infinity", Number.NEGATIVE_INFINITY, "$", /-Infinity is not a JSON number/],
  ["-0", { a: [3, { b: -0 }] }, "$.a[1].b", /-0 would read back as 0/],
  ["a Map", { m: new Map([["k", 1]]) }, "$.m", /a Map is not JSON/],
  ["a Set", new Set([1]), "$", /a Set is not JSON/],
  ["a Date", { at: new Date(0) }, "$.at", /a Date is not JSON/],
  ["a class instance", { p: new Point(1, 2) }, "$.p", /an instance of Point is not a plain object/],
  ["a boxed number", [Object(1)], "$[0]", /an instance of Number/],
  ["a typed array", new Uint8Array(2), "$", /an instance of Uint8Array/],
  ["a toJSON method", { v: { toJSON: () => "x" } }, "$.v", /toJSON/],
  ["a function", { f: () => 1 }, "$.f", /a function has no JSON form/],
  ["undefined", undefined, "$", /undefined has no JSON form/],
  ["undefined in an object", { a: 1, "b c": undefined }, "$[\"b c\"]", /undefined has no JSON form/],
  ["undefined in an array", [1, undefined], "$[1]", /undefined has no JSON form/],
  ["a hole in an array", { list: sparse }, "$.list[2]", /a hole in an array/],
  ["a symbol", { s: Symbol("s") }, "$.s", /a symbol has no JSON form/],
  ["a bigint", { big: [10n] }, "$.big[0]", /a bigint has no JSON form/],
  ["a cycle", cyclic, "$.a[1].back", /contains itself/],
  ["a cycle behind toJSON", cyclicBehindToJSON, "$", /toJSON/]
]

describe("values are JSON, exactly", () => {
  it.each(refused)("refuses %s, naming where it is", (_, value, path, reason) => {
    const result = encodeValue(defaultLimits, value)
    if (Either.isRight(result)) return expect.fail(`taken as ${result.right}`)
    expect(result.left).toMatchObject({ _tag: "InvalidValue", path })
    expect(result.left.message).toMatch(reason)
    expect(result.left.message).toContain(path === "$" ? "the value is not JSON:" : `at ${path}:`)
  })

  it("takes or refuses any depth of nesting without failing itself", () => {
    let deep: unknown = null
    let depth = 0
    for (const target of [100, 1000, 2000, 3000, 4000, 6000, 10_000, 1_000_000]) {
      for (; depth < target; depth++) deep = [deep]
      const result = encodeValue(defaultLimits, deep)
      if (Either.isLeft(result)) expect(result.left.message).toMatch(/nested too deeply/)
    }
    expect(Either.isLeft(encodeValue(defaultLimits, deep))).toBe(true)
  })

  it("takes every JSON value, with objects of a null prototype, as JSON.stringify writes it", () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 })
    const values: ReadonlyArray<unknown> = [null, 0, -1.5, 1e308, 5e-324, "", "\ud800", true, [], [1, [2]], { a: { b: null } }, bare]
    for (const value of values) expect(encodeValue(defaultLimits, value)).toEqual(Either.right(JSON.stringify(value)))
  })

  describe("JSON text", () => {
    const lossy: ReadonlyArray<readonly [text: string, path: string, reason: RegExp]> = [
      ["1e400", "$", /1e400 overflows to Infinity/],
      ["[-1e400, 1e-400]", "$[0]", /overflows/],
      ["[1, 1e-400]", "$[1]", /1e-400 underflows to 0/],
      ["{\"a\": {\"b c\": [0, 2.5E-999]}}", "$.a[\"b c\"][1]", /underflows/],
      ["{\"x\": \"1e400\", \"y\": [{}, []], \"z\": -1e-400}", "$.z", /underflows/],
      [`[0.${"0".repeat(400)}1]`, "$[0]", /underflows/],
      [`{"big": ${"9".repeat(400)}}`, "$.big", /overflows/],
      ["{\"k\\\"ey\": 1e999}", "$[\"k\\\"ey\"]", /overflows/]
    ]
    it.each(lossy)("refuses %s, a number that does not survive parsing", (text, path, reason) => {
      const result = checkJsonText(text)
      if (Either.isRight(result)) return expect.fail("taken")
      expect(result.left).toMatchObject({ _tag: "InvalidValue", path })
      expect(result.left.message).toMatch(reason)
    })

    it("takes numbers a double holds, and exponents inside strings", () => {
      for (const text of ["1e308", "-1e-300", "0e0", "0.000", "-0.0e-999", "[\"1e400\", 2E+3]", "{\"1e-400\": 1}"]) {
        expect(checkJsonText(text)).toEqual(Either.right(text))
      }
    })
  })

  it.scoped("what a read returns is the same before and after a reopen, on file storage", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const value = { name: "Ada", n: [1, -2.5, 1e-300, 1.7976931348623157e308], nested: { empty: {}, list: [] }, s: "\ud83d" }
      const onDisk = <A, E>(effect: Effect.Effect<A, E, KV>) => Effect.provide(effect, KV.layer({ dataDir }))
      const before = yield* onDisk(Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("exact", "k", value)
        for (const bad of [new Map(), { d: new Date(0) }, { u: undefined }]) {
          expect((yield* Effect.flip(kv.put("exact", "bad", bad)))._tag).toBe("InvalidValue")
        }
        return yield* kv.get("exact", "k")
      }))
      const after = yield* onDisk(Effect.flatMap(KV, (kv) => Effect.all([kv.get("exact", "k"), kv.has("exact", "bad")])))
      expect(before).toEqual(Option.some(value))
      expect(after).toEqual([before, false])
    }))
})
