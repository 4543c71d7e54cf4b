/**
 * Disk errors: a full disk (a short write, then ENOSPC) and a failed fsync fail the writes they
 * touch with a typed error and acknowledge nothing unsynced; the store reopens from its log on
 * next use. Also on a real, tiny tmpfs where `mount` works (skipped where it does not).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV, type KVService } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "./fixtures/FaultyFileSystem.js"
import { tempDir } from "./fixtures/TempDir.js"

/** Puts k0, k1, … one at a time until one fails: the acknowledged keys and the failure. */
const putUntilFailure = (kv: KVService, size: number) =>
  Effect.gen(function*() {
    const acknowledged: Array<string> = []
    for (let i = 0; i < 10_000; i++) {
      const exit = yield* Effect.exit(kv.put("s", `k${i}`, "v".repeat(size)))
      if (Exit.isFailure(exit)) return { acknowledged, error: Option.getOrThrow(Cause.failureOption(exit.cause)) }
      acknowledged.push(`k${i}`)
    }
    throw new Error("the disk never filled")
  })

/** The values of `keys` in store "s" after reopening `dataDir` on the real disk. */
const reopened = (dataDir: string, keys: ReadonlyArray<string>) =>
  Effect.provide(
    Effect.flatMap(KV, (kv) => Effect.forEach(keys, (key) => Effect.map(kv.get("s", key), Option.isSome))),
    KV.layer({ dataDir })
  )

const onFaultyDisk = (dataDir: string, fileSystem: ReturnType<typeof diskFull>) =>
  Effect.map(
    Layer.build(KV.layerWith().pipe(Layer.provide(Storage.layerFile({ dataDir })), Layer.provide(fileSystem.layer))),
    Context.get(KV)
  )

/** Mounts a tmpfs of `size` at a new folder, or `undefined` where mounting is not allowed. */
const mountTmpfs = (size: string): string | undefined => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-tmpfs-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" })
    return dir
  } catch {
    fs.rmSync(dir, { recursive: true, force: true })
    return undefined
  }
}
const tmpfs = mountTmpfs("256k")
// Unmounted here as well as in the test: a test that times out never reaches its own cleanup.
afterAll(() => {
  if (tmpfs === undefined || !fs.existsSync(tmpfs)) return
  try {
    execFileSync("umount", ["-l", tmpfs], { stdio: "ignore" })
  } catch {
    // already unmounted
  }
  fs.rmSync(tmpfs, { recursive: true, force: true })
})

describe("disk errors", () => {
  it.scoped("a full disk fails the write typed, acknowledges nothing unsynced, and recovers once there is room", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const { acknowledged, error, again } = yield* Effect.scoped(Effect.gen(function*() {
        const kv = yield* onFaultyDisk(dataDir, disk)
        disk.setSpace(1010) // eight records of 125 bytes, then a short write
        const { acknowledged, error } = yield* putUntilFailure(kv, 100)
        // The store stopped; the next write reopens it, and fails: the disk is still full.
        const again = yield* Effect.flip(kv.put("s", "again", 1))
        disk.setSpace(Number.POSITIVE_INFINITY)
        yield* kv.put("s", "room", 1)
        return { acknowledged, error, again }
      }))
      expect(acknowledged.length).toBeGreaterThan(0)
      expect(error).toMatchObject({ _tag: "StorageError", operation: "write" })
      expect(error.message).toMatch(/short write/)
      expect(again).toMatchObject({ _tag: "StorageError" })
      expect(again.message).toMatch(/ENOSPC/)
      const failedKey = `k${acknowledged.length}`
      expect(yield* reopened(dataDir, [...acknowledged, failedKey, "again", "room"]))
        .toEqual([...acknowledged.map(() => true), false, false, true])
    }))

  it.scoped("a failed fsync fails the write, is never retried for it, and the store reopens", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const { error } = yield* Effect.scoped(Effect.gen(function*() {
        const kv = yield* onFaultyDisk(dataDir, disk)
        yield* kv.put("s", "before", 1)
        disk.failNextSync()
        const error = yield* Effect.flip(kv.put("s", "unsynced", 1))
        yield* kv.put("s", "after", 1)
        return { error }
      }))
      expect(error).toMatchObject({ _tag: "StorageError", operation: "fsync" })
      expect(error.message).toContain("nothing unsynced was acknowledged")
      const [before, , after] = yield* reopened(dataDir, ["before", "unsynced", "after"])
      expect([before, after]).toEqual([true, true])
    }))

  it.skipIf(tmpfs === undefined)("on a real tmpfs that fills up: a typed error, and every acknowledged write reopens", async () => {
    const dataDir = path.join(tmpfs!, "data")
    try {
      const { acknowledged, error } = await Effect.runPromise(
        Effect.flatMap(KV, (kv) => putUntilFailure(kv, 2000)).pipe(Effect.provide(KV.layer({ dataDir })))
      )
      expect(error).toMatchObject({ _tag: "StorageError" })
      expect(error.message).toMatch(/ENOSPC|short write/)
      const found = await Effect.runPromise(reopened(dataDir, acknowledged))
      expect(found.every((present) => present)).toBe(true)
    } finally {
      execFileSync("umount", ["-l", tmpfs!])
      fs.rmSync(tmpfs!, { recursive: true, force: true })
    }
  })
})
