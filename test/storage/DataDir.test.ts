/** The data folder: store names as file names, and the lock that gives one process the folder. */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { KV } from "../../src/kv/KV.js"
import { decodeName, encodeName } from "../../src/storage/internal/dataDir.js"
import { removeChildScript, startChild } from "./fixtures/Child.js"
import { tempDir } from "./fixtures/TempDir.js"

afterAll(removeChildScript)

describe("store names as file names", () => {
  it("cannot leave the folder, keep names apart that differ only in case, and decode back", () => {
    const names = [".", "..", "../x", "a/b", "a\\b", "A", "a", "Users", "users", "é", "nul\0", "_a", "~41", "x".repeat(128)]
    const encoded = names.map(encodeName)
    for (const [i, file] of encoded.entries()) {
      expect(file).toMatch(/^[a-z0-9_~-]+$/)
      expect(decodeName(file)).toBe(names[i])
    }
    expect(new Set(encoded.map((file) => file.toLowerCase())).size).toBe(names.length)
    expect(decodeName("stray.file")).toBeUndefined()
  })
})

describe("the lock", () => {
  it.scoped("a second open in the same process fails with DataDirLocked naming this pid", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* Layer.build(KV.layer({ dataDir }))
      const error = yield* Effect.flip(Layer.build(KV.layer({ dataDir })))
      expect(error).toMatchObject({ _tag: "DataDirLocked", pid: process.pid })
      expect(error.message).toContain(`in use by process ${process.pid}`)
    }))

  it.scoped("another process is refused while this one holds the folder", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      yield* Layer.build(KV.layer({ dataDir }))
      const child = yield* Effect.promise(() => startChild(["open", dataDir]))
      const lines: Array<Record<string, unknown>> = []
      child.lines((line) => lines.push(line))
      yield* Effect.promise(() => child.exited)
      expect(lines).toEqual([{ failed: "DataDirLocked", pid: process.pid }])
    }))

  it.scoped("a lock left by a dead process is taken over, and released on close", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid!
      fs.writeFileSync(path.join(dataDir, "LOCK"), `${dead}\n`)
      yield* Effect.scoped(Effect.flatMap(Layer.build(KV.layer({ dataDir })), () =>
        Effect.sync(() => expect(fs.readFileSync(path.join(dataDir, "LOCK"), "utf8")).toBe(`${process.pid}\n`))))
      expect(fs.existsSync(path.join(dataDir, "LOCK"))).toBe(false)
      const child = yield* Effect.promise(() => startChild(["open", dataDir]))
      const lines: Array<Record<string, unknown>> = []
      child.lines((line) => lines.push(line))
      yield* Effect.promise(() => child.exited)
      expect(lines).toEqual([{ opened: true }])
      expect(yield* Effect.provide(Effect.flatMap(KV, (kv) => kv.get("s", "k")), KV.layer({ dataDir }))).toEqual(Option.none())
    }))
})
