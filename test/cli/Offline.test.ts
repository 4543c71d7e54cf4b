import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Cli from "./cli.js"

const values: ReadonlyArray<unknown> = [null, 0, -1.5, "", "text ✓ \u001b[31m", true, [], [1, [2]], { a: { b: null } }]

// A folder written by a real server, then left by it.
const writtenByServer = (dir: string) =>
  Effect.gen(function*() {
    const server = yield* Cli.serve(dir)
    const put = (store: string, key: string, value: unknown) =>
      Cli.run(["put", store, key, JSON.stringify(value), "--url", server.url]).pipe(
        Effect.tap((result) => expect(result.code).toBe(0))
      )
    for (const [i, value] of values.entries()) yield* put("values", `k${i}`, value)
    yield* put("users", "ada", { name: "Ada" })
    yield* put("users", "ada", { name: "Ada King" })
    yield* put("users", "alan", { name: "Alan" })
    expect((yield* Cli.stop(server)).code).toBe(0)
  })

const logOf = (dir: string, encodedStore: string) => Path.join(dir, "stores", encodedStore, "log")

describe("effect-kv offline tools", () => {
  it.scopedLive("export then import into a fresh folder gives the same export", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      yield* writtenByServer(Path.join(dir, "a"))

      const exported = yield* Cli.run(["export", "--data-dir", Path.join(dir, "a")])
      expect(exported).toMatchObject({ code: 0, stderr: "" })
      const lines = exported.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))
      expect(lines).toContainEqual({ store: "users", key: "ada", value: { name: "Ada King" } })
      for (const [i, value] of values.entries()) expect(lines).toContainEqual({ store: "values", key: `k${i}`, value })
      expect(lines).toHaveLength(values.length + 2)

      const imported = yield* Cli.run(["import", "--data-dir", Path.join(dir, "b")], { input: exported.stdout })
      expect(imported).toMatchObject({ code: 0, stderr: "" })
      expect(imported.stdout).toBe(`imported ${values.length + 2} values into 2 stores: users (2), values (${values.length})\n`)
      const again = yield* Cli.run(["export"], { env: { KV_DATA_DIR: Path.join(dir, "b") } })
      expect(again.stdout).toBe(exported.stdout)

      const oneStore = yield* Cli.run(["export", "users", "--data-dir", Path.join(dir, "b")])
      expect(oneStore.stdout.trimEnd().split("\n").map((line) => JSON.parse(line).store)).toEqual(["users", "users"])
      const noStore = yield* Cli.run(["export", "nobody", "--data-dir", Path.join(dir, "b")])
      expect(noStore.code).toBe(1)
      expect(noStore.stderr).toMatch(/^error: no store "nobody"/)
    }))

  it.scopedLive("export writes a key's deadline as expiresAt, and import puts back that same deadline", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const server = yield* Cli.serve(Path.join(dir, "a"))
      for (const args of [["s1", "\"ada\"", "--ttl", "86400"], ["s2", "\"alan\""]]) {
        expect((yield* Cli.run(["put", "sessions", ...args, "--url", server.url])).code).toBe(0)
      }
      expect((yield* Cli.stop(server)).code).toBe(0)

      const exported = yield* Cli.run(["export", "--data-dir", Path.join(dir, "a")])
      expect(exported).toMatchObject({ code: 0, stderr: "" })
      const [s1, s2] = exported.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))
      expect(s1).toEqual({ store: "sessions", key: "s1", value: "ada", expiresAt: expect.any(Number) })
      expect(s1.expiresAt).toBeGreaterThan(Date.now())
      expect(s2).toEqual({ store: "sessions", key: "s2", value: "alan" })

      const imported = yield* Cli.run(["import", "--data-dir", Path.join(dir, "b")], { input: exported.stdout })
      expect(imported).toMatchObject({ code: 0, stdout: "imported 2 values into 1 store: sessions (2)\n", stderr: "" })
      // The restored folder's export is the same to the millisecond: the deadline, not a ttl counted again.
      expect((yield* Cli.run(["export", "--data-dir", Path.join(dir, "b")])).stdout).toBe(exported.stdout)
    }))

  it.scopedLive("import skips a line whose expiresAt has passed, and says how many it skipped", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const later = Date.now() + 86_400_000
      const input = [
        { store: "sessions", key: "live", value: 1, expiresAt: later },
        { store: "sessions", key: "old", value: 2, expiresAt: 1_000 },
        { store: "sessions", key: "forever", value: 3 },
        { store: "sessions", key: "live", value: 4, expiresAt: 2_000 }
      ].map((line) => JSON.stringify(line)).join("\n")
      const imported = yield* Cli.run(["import", "--data-dir", dir], { input })
      expect(imported).toMatchObject({
        code: 0,
        stdout: "imported 2 values into 1 store: sessions (2); 2 already expired, skipped\n",
        stderr: ""
      })
      // A skipped line is as if it were not there: "live" keeps its earlier line, "old" is absent.
      const exported = yield* Cli.run(["export", "--data-dir", dir])
      expect(exported.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual([
        { store: "sessions", key: "forever", value: 3 },
        { store: "sessions", key: "live", value: 1, expiresAt: later }
      ])
    }))

  it.scopedLive("import refuses an expiresAt that is not a number, naming its line", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const input = [
        JSON.stringify({ store: "s", key: "a", value: 1 }),
        JSON.stringify({ store: "s", key: "b", value: 2, expiresAt: "soon" })
      ].join("\n")
      const result = yield* Cli.run(["import", "--data-dir", dir], { input })
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(
        "error: line 2 of the import: expiresAt: must be a deadline in epoch milliseconds, a finite number\n"
      )
    }))

  it.scopedLive("import stops at a bad line and names it", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const input = [
        JSON.stringify({ store: "s", key: "a", value: 1 }),
        "",
        JSON.stringify({ store: "s", key: "b" }),
        JSON.stringify({ store: "s", key: "c", value: 3 })
      ].join("\n")
      const result = yield* Cli.run(["import", "--data-dir", dir], { input })
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/^error: line 3 of the import: value: is missing$/m)
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)

      const notJson = yield* Cli.run(["import", "--data-dir", dir], { input: "{\"store\":\"s\"\n" })
      expect(notJson.stderr).toMatch(/^error: line 1 of the import: .*JSON/m)

      const refused = yield* Cli.run(["import", "--data-dir", dir], {
        input: `${JSON.stringify({ store: "s", key: "ok", value: 1 })}\n${JSON.stringify({ store: "bad/name", key: "k", value: 1 })}\n`
      })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/^error: line 2 of the import: invalid store name/m)
    }))

  it.scopedLive("import refuses a number that a double cannot hold, naming its line and where", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const input = `{"store":"s","key":"a","value":1}\n{"store":"s","key":"b","value":{"n":[1e400]}}\n`
      const result = yield* Cli.run(["import", "--data-dir", dir], { input })
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/^error: line 2 of the import: the value is not JSON at \$\.n\[0\]: /m)
    }))

  it.scopedLive.skipIf(!Cli.hasTerminal)("import, export and compact show progress on a terminal", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ store: `s${i % 2}`, key: `k${i}`, value: i }))
      const input = Path.join(dir, "in.jsonl")
      Fs.writeFileSync(input, lines.join("\n") + "\n")
      const data = Path.join(dir, "data")
      const imported = yield* Cli.runOnTerminal(["import", "--data-dir", data], { stdin: input })
      expect(imported.screen).toMatch(/imported 1024 lines/)
      expect(imported.screen).toMatch(/imported 1500 values into 2 stores: s0 \(750\), s1 \(750\)/)
      const out = Path.join(dir, "out.jsonl")
      const exported = yield* Cli.runOnTerminal(["export", "--data-dir", data], { stdout: out })
      expect(exported.screen).toMatch(/exported 750 keys/)
      expect(Fs.readFileSync(out, "utf8").trimEnd().split("\n")).toHaveLength(1500)
      const compacted = yield* Cli.runOnTerminal(["compact", "--data-dir", data])
      expect(compacted.screen).toMatch(/compacting s1 \(2 of 2\)/)
      // On a pipe, nothing but results.
      const piped = yield* Cli.run(["compact", "--data-dir", data])
      expect(piped).toMatchObject({ code: 0, stdout: "compacted 2 stores\n", stderr: "" })
    }))

  it.scopedLive("compact keeps every key", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      yield* writtenByServer(dir)
      const before = yield* Cli.run(["export", "--data-dir", dir])
      const all = yield* Cli.run(["compact", "--data-dir", dir])
      expect(all).toMatchObject({ code: 0, stdout: "compacted 2 stores\n" })
      const one = yield* Cli.run(["compact", "users", "--data-dir", dir])
      expect(one).toMatchObject({ code: 0, stdout: "compacted 1 store\n" })
      expect((yield* Cli.run(["export", "--data-dir", dir])).stdout).toBe(before.stdout)
      expect((yield* Cli.run(["verify", "--data-dir", dir])).code).toBe(0)
    }))

  it.scopedLive("the tools that read a folder refuse a missing one instead of creating it", () =>
    Effect.gen(function*() {
      const missing = Path.join(yield* Cli.tempDir, "typo")
      for (const tool of ["verify", "compact", "export"]) {
        const result = yield* Cli.run([tool, "--data-dir", missing])
        expect(result.code).toBe(1)
        expect(result.stderr).toBe(`error: there is no data folder at ${missing}; pass --data-dir (or set KV_DATA_DIR)\n`)
      }
      expect(Fs.existsSync(missing)).toBe(false)
    }))

  it.scopedLive("the tools refuse a folder a server holds", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      yield* Cli.serve(dir)
      for (const args of [["verify"], ["export"], ["compact"], ["import"]]) {
        const result = yield* Cli.run([...args, "--data-dir", dir])
        expect(result.code).toBe(1)
        expect(result.stderr).toMatch(/^error: .* is in use by process \d+/)
      }
    }))

  it.scopedLive("verify passes a healthy folder, and fails on a corrupted or torn log naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      yield* writtenByServer(dir)
      const healthy = yield* Cli.run(["verify", "--data-dir", dir])
      expect(healthy.code).toBe(0)
      expect(healthy.stdout).toContain(`ok       ${logOf(dir, "users")} (3 records)\n`)

      // Damage the first record of a log that has records after it: corruption, not a torn tail.
      const log = logOf(dir, "users")
      const bytes = Fs.readFileSync(log)
      const damaged = Buffer.from(bytes)
      damaged[12] = damaged[12]! ^ 0xff
      Fs.writeFileSync(log, damaged)
      const corrupt = yield* Cli.run(["verify", "--data-dir", dir])
      expect(corrupt.code).toBe(1)
      expect(corrupt.stdout).toContain(log)
      expect(corrupt.stdout).toMatch(/corrupt/i)
      expect(corrupt.stderr).toMatch(/^error: .* has 1 corrupt file and 0 torn tails: /)

      // Cut the last record short: a torn tail.
      Fs.writeFileSync(log, bytes.subarray(0, bytes.length - 3))
      const torn = yield* Cli.run(["verify", "--data-dir", dir])
      expect(torn.code).toBe(1)
      expect(torn.stdout).toContain(log)
      expect(torn.stdout).toMatch(/torn/i)
      expect(torn.stdout).toContain("(2 whole records; the next open cuts the tail off)")
    }))
})
