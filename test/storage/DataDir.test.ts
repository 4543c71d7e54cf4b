/** The data folder: store names as file names, and the lock that gives one process the folder. */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { KV } from "../../src/kv/KV.js"
import { decodeName, encodeName, layout, lockOn } from "../../src/storage/internal/dataDir.js"
import { removeChildScript, startChild } from "./fixtures/Child.js"
import { tempDir } from "./fixtures/TempDir.js"

afterAll(removeChildScript)

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!

const readLock = (dataDir: string) => fs.readFileSync(path.join(dataDir, "LOCK"), "utf8")

/**
 * A child in `hold` mode on `dataDir`, SIGKILLed when the scope closes: `send` gives it a command,
 * `reply` waits for its next line.
 */
const holder = (dataDir: string) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.promise(() => startChild(["hold", dataDir], { stdin: true })),
      (child) => Effect.promise(() => (child.process.kill("SIGKILL"), child.exited))
    )
    const lines = yield* Queue.unbounded<Record<string, unknown>>()
    child.lines((line) => Queue.unsafeOffer(lines, line))
    return { child, send: child.send, reply: Queue.take(lines) }
  })

/** Abstract sockets, which close the race and the pid reuse below, are Linux's alone. */
const linux = process.platform === "linux"

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
  it.scoped("a lock socket the system refuses leaves the folder locked by LOCK alone, with a warning", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* tempDir
      const paths = layout(dataDir)
      // A socket path in a folder that does not exist: the bind fails with ENOENT, not EADDRINUSE.
      const refused = Effect.succeed(path.join(dataDir, "no-such-folder", "lock.sock"))
      const warnings: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* lockOn(fs, paths, refused).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => warnings.push(String(message)))))
        )
        expect(readLock(dataDir)).toBe(`${process.pid}\n`)
        expect(warnings.join("\n")).toMatch(/lock socket of .* was refused .*; locking it by its LOCK file alone/)
        // LOCK alone still refuses a second holder.
        const second = yield* Effect.flip(lockOn(fs, paths, refused))
        expect(second).toMatchObject({ _tag: "DataDirLocked", pid: process.pid })
      }))
      expect(yield* fs.exists(paths.lock)).toBe(false)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("a second open in the same process, or through a symlink, fails with DataDirLocked naming this pid", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const link = path.join(yield* tempDir, "link")
      fs.symlinkSync(dataDir, link)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(KV.layer({ dataDir }))
        for (const second of [dataDir, link]) {
          const error = yield* Effect.flip(Layer.build(KV.layer({ dataDir: second })))
          expect(error).toMatchObject({ _tag: "DataDirLocked", pid: process.pid })
          expect(error.message).toContain(`in use by process ${process.pid}`)
        }
      }))
      // The first's scope closed: the folder is free again.
      yield* Layer.build(KV.layer({ dataDir }))
      expect(readLock(dataDir)).toBe(`${process.pid}\n`)
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
      const dead = deadPid()
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

  it.scoped.skipIf(!linux)("processes taking over a stale lock at one moment: exactly one wins, every time", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const children = yield* Effect.all(Array.from({ length: 4 }, () => holder(dataDir)), { concurrency: "unbounded" })
      const dead = deadPid()
      for (let attempt = 0; attempt < 10; attempt++) {
        fs.writeFileSync(path.join(dataDir, "LOCK"), `${dead}\n`)
        // Each waits for its command with everything loaded: the four open as close together as they can.
        for (const child of children) child.send("open")
        const replies = yield* Effect.forEach(children, (child) => child.reply)
        const winners = children.filter((_, i) => replies[i]!.opened === true)
        expect(winners.map((winner) => winner.child.process.pid), `attempt ${attempt}: ${JSON.stringify(replies)}`)
          .toHaveLength(1)
        expect(replies.filter((reply) => reply.failed === "DataDirLocked")).toHaveLength(children.length - 1)
        expect(readLock(dataDir)).toBe(`${winners[0]!.child.process.pid}\n`)
        for (const child of children) child.send("close")
        yield* Effect.forEach(children, (child) => child.reply)
      }
    }), { timeout: 120_000 })

  it.scoped.skipIf(!linux)("a LOCK naming our own pid with no live holder (a restarted container's pid 1) is taken", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      fs.writeFileSync(path.join(dataDir, "LOCK"), `${process.pid}\n`)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(KV.layer({ dataDir }))
        expect(readLock(dataDir)).toBe(`${process.pid}\n`)
        // Taken for real: another process is refused, naming us.
        const other = yield* holder(dataDir)
        other.send("open")
        expect(yield* other.reply).toEqual({ failed: "DataDirLocked", pid: process.pid })
      }))
      expect(fs.existsSync(path.join(dataDir, "LOCK"))).toBe(false)
    }), { timeout: 60_000 })

  it.scoped("a holder killed with SIGKILL leaves a folder that opens at once", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const killed = yield* holder(dataDir)
      killed.send("open")
      expect(yield* killed.reply).toEqual({ opened: true })
      expect(readLock(dataDir)).toBe(`${killed.child.process.pid}\n`)
      killed.child.process.kill("SIGKILL")
      yield* Effect.promise(() => killed.child.exited)
      yield* Layer.build(KV.layer({ dataDir }))
      expect(readLock(dataDir)).toBe(`${process.pid}\n`)
    }), { timeout: 60_000 })
})
