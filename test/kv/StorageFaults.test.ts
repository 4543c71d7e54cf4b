/**
 * A storage fault is not a crash: a store whose log fails (a full disk, a failed fsync) answers
 * that batch with the error, keeps serving reads, refuses writes at once while the log is down,
 * and takes writes again by itself once its probe sees the disk recover; no restart, and a reopen
 * holds exactly the acknowledged writes. On a faulty file system, and on a real tmpfs that fills.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Metric, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { KV, type KVService } from "../../src/kv/KV.js"
import { expiredKeys } from "../../src/kv/internal/expiry.js"
import { storeRestarts } from "../../src/kv/Stores.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "../storage/fixtures/FaultyFileSystem.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { mountTmpfs, unmountTmpfs } from "../storage/fixtures/Tmpfs.js"

const restarts = Effect.map(Metric.value(storeRestarts), (state) => state.count)

/** The failure of a write, which must fail. */
const refusal = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) ? Effect.succeed(Option.getOrThrow(Cause.failureOption(exit.cause))) : Effect.dieMessage("the write succeeded"))

/** Puts `key` until the store takes it (it refuses at once meanwhile); returns how many were refused, and with what. */
const putUntilTaken = (kv: KVService, store: string, key: string, value: unknown) =>
  Effect.gen(function*() {
    const refused = new Set<string>()
    while (true) {
      const exit = yield* Effect.exit(kv.put(store, key, value))
      if (Exit.isSuccess(exit)) return refused
      refused.add(Option.getOrThrow(Cause.failureOption(exit.cause))._tag)
      yield* Effect.sleep("20 millis")
    }
  })

/** The values of `store` after reopening `dataDir` on the real disk. */
const reopened = (dataDir: string, store: string) =>
  Effect.gen(function*() {
    const kv = yield* KV
    const values = new Map<string, unknown>()
    let after: string | undefined
    do {
      const page = yield* kv.keys(store, { limit: 1000, ...(after === undefined ? {} : { after }) })
      for (const key of page.keys) values.set(key, Option.getOrThrow(yield* kv.get(store, key)))
      after = Option.getOrUndefined(page.next)
    } while (after !== undefined)
    return values
  }).pipe(Effect.provide(KV.layer({ dataDir })))

describe("a storage fault is not a crash", () => {
  it.scopedLive("a full disk: DiskFull at once, reads go on, no restart; writes come back by themselves when space returns", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const acknowledged = new Map<string, unknown>()
      yield* Effect.gen(function*() {
        const kv = yield* KV
        for (const key of ["a", "b"]) {
          yield* kv.put("s", key, key)
          acknowledged.set(key, key)
        }
        const restartsBefore = yield* restarts

        disk.setSpace(0)
        const first = yield* refusal(kv.put("s", "c", "c"))
        expect(first).toMatchObject({ _tag: "DiskFull" })
        expect(first.message).toContain("free some space")
        // Refused at once, again and again, with the log's error: the store did not crash.
        for (let i = 0; i < 20; i++) expect((yield* refusal(kv.put("s", `x${i}`, i)))._tag).toBe("DiskFull")
        expect((yield* refusal(kv.delete("s", "a")))._tag).toBe("DiskFull")
        expect((yield* refusal(kv.clear("s")))._tag).toBe("DiskFull")
        // A write that would change nothing needs no log: it is answered as the state says.
        expect((yield* refusal(kv.put("s", "a", "again", { ifAbsent: true })))._tag).toBe("VersionMismatch")
        expect(yield* kv.delete("s", "never-there")).toBe(false)
        // Reads answer from the acknowledged state.
        expect(yield* kv.get("s", "a")).toEqual(Option.some("a"))
        expect(yield* kv.size("s")).toBe(2)
        expect(yield* kv.get("s", "c")).toEqual(Option.none())
        // Other stores on the same disk are refused alike, and just as alive.
        expect((yield* refusal(kv.put("other", "k", 1)))._tag).toBe("DiskFull")
        expect(yield* restarts).toBe(restartsBefore)

        disk.setSpace(Number.POSITIVE_INFINITY)
        const refused = yield* putUntilTaken(kv, "s", "after", "after")
        acknowledged.set("after", "after")
        expect([...refused].filter((tag) => tag !== "DiskFull")).toEqual([])
        yield* kv.put("s", "c", "c")
        acknowledged.set("c", "c")
        expect(yield* restarts).toBe(restartsBefore)
      }).pipe(Effect.provide(KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer)))))

      expect(yield* reopened(dataDir, "s")).toEqual(acknowledged)
    }))

  it.scopedLive("a failed fsync: StorageError for its batch, which is not applied; the store takes writes again by itself", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      yield* Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("s", "before", 1)
        const restartsBefore = yield* restarts
        disk.failNextSync()
        expect(yield* refusal(kv.put("s", "lost", 1))).toMatchObject({ _tag: "StorageError", operation: "fsync" })
        expect(yield* kv.get("s", "lost")).toEqual(Option.none())
        yield* putUntilTaken(kv, "s", "after", 1)
        expect(yield* restarts).toBe(restartsBefore)
      }).pipe(Effect.provide(KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer)))))
      expect([...(yield* reopened(dataDir, "s")).keys()].sort()).toEqual(["after", "before"])
    }))

  it.scopedLive("keys that fall due while the disk is full are expired once it recovers, with no write to wake the store", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const expired = Effect.map(Metric.value(expiredKeys), (state) => state.count)
      yield* Effect.gen(function*() {
        const kv = yield* KV
        yield* kv.put("s", "kept", 1)
        yield* kv.put("s", "brief", 1, { ttl: "100 millis" })
        disk.setSpace(0)
        expect((yield* refusal(kv.put("s", "refused", 1)))._tag).toBe("DiskFull")
        const expiredBefore = yield* expired
        // Hidden from reads at its deadline; its Expire cannot be written while the disk is full.
        while (Option.isSome(yield* kv.get("s", "brief"))) yield* Effect.sleep("10 millis")
        expect(yield* expired).toBe(expiredBefore)
        disk.setSpace(Number.POSITIVE_INFINITY)
        while ((yield* expired) === expiredBefore) yield* Effect.sleep("10 millis")
      }).pipe(Effect.provide(KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer)))))
      expect([...(yield* reopened(dataDir, "s")).keys()]).toEqual(["kept"])
    }))

  const tmpfs = mountTmpfs("512k")
  it.scopedLive.skipIf(tmpfs === undefined)("on a real tmpfs that fills up, and is freed", () =>
    Effect.gen(function*() {
      const dataDir = path.join(tmpfs!, "data")
      const filler = path.join(tmpfs!, "filler")
      fs.writeFileSync(filler, Buffer.alloc(64 * 1024))
      const acknowledged = new Map<string, unknown>()
      yield* Effect.gen(function*() {
        const kv = yield* KV
        const restartsBefore = yield* restarts
        let error: { readonly _tag: string } | undefined
        for (let i = 0; error === undefined; i++) {
          const value = { i, pad: "v".repeat(2000) }
          const exit = yield* Effect.exit(kv.put("s", `k${i}`, value))
          if (Exit.isSuccess(exit)) acknowledged.set(`k${i}`, value)
          else error = Option.getOrThrow(Cause.failureOption(exit.cause))
        }
        expect(error).toMatchObject({ _tag: "DiskFull" })
        expect(acknowledged.size).toBeGreaterThan(10)
        for (let i = 0; i < 10; i++) expect((yield* refusal(kv.put("s", `refused${i}`, i)))._tag).toBe("DiskFull")
        expect(yield* kv.get("s", "k0")).toEqual(Option.some(acknowledged.get("k0")))
        expect(yield* kv.size("s")).toBe(acknowledged.size)
        expect(yield* restarts).toBe(restartsBefore)

        fs.rmSync(filler)
        yield* putUntilTaken(kv, "s", "after", "after")
        acknowledged.set("after", "after")
        expect(yield* restarts).toBe(restartsBefore)
      }).pipe(Effect.provide(KV.layer({ dataDir })))
      expect(yield* reopened(dataDir, "s")).toEqual(acknowledged)
    }).pipe(Effect.ensuring(Effect.sync(() => unmountTmpfs(tmpfs!)))))
})
