/**
 * A storage fault over HTTP: a full disk answers writes 507 with `Retry-After` while reads go on,
 * a failed fsync 503, and writes are answered 200 again by themselves once the disk recovers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KV } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { diskFull } from "../storage/fixtures/FaultyFileSystem.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { request, serve } from "./server.js"

/** PUTs until the answer is not `refused`; returns it, and every status seen before. */
const putUntil = (base: string, path: string, refused: number) =>
  Effect.gen(function*() {
    const seen = new Set<number>()
    while (true) {
      const reply = yield* request(base, "PUT", path, { body: "after" })
      if (reply.status !== refused) return { reply, seen }
      seen.add(reply.status)
      yield* Effect.sleep("20 millis")
    }
  })

describe("storage faults over HTTP", () => {
  it.scopedLive("a full disk: 507 with Retry-After, reads go on; 200 again once space returns", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const base = yield* serve({}, KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer))))
      expect((yield* request(base, "PUT", "/stores/s/keys/a", { body: 1 })).status).toBe(200)

      disk.setSpace(0)
      for (const key of ["b", "c", "a"]) {
        const full = yield* request(base, "PUT", `/stores/s/keys/${key}`, { body: 2 })
        expect(full.status).toBe(507)
        expect(full.headers.get("retry-after")).toBe("1")
        expect(full.json).toMatchObject({ error: "DiskFull" })
        expect((full.json as { message: string }).message).toContain("free some space")
      }
      expect((yield* request(base, "DELETE", "/stores/s/keys/a")).status).toBe(507)
      const read = yield* request(base, "GET", "/stores/s/keys/a")
      expect(read.status).toBe(200)
      expect(read.json).toBe(1)
      expect((yield* request(base, "GET", "/stores/s/keys/b")).status).toBe(404)

      disk.setSpace(Number.POSITIVE_INFINITY)
      const { reply } = yield* putUntil(base, "/stores/s/keys/b", 507)
      expect(reply.status).toBe(200)
      expect((yield* request(base, "GET", "/stores/s/keys/b")).json).toBe("after")
    }))

  it.scopedLive("a failed fsync: 503 StorageError with Retry-After, then 200 again by itself", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const disk = diskFull()
      const base = yield* serve({}, KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer))))
      expect((yield* request(base, "PUT", "/stores/s/keys/a", { body: 1 })).status).toBe(200)
      disk.failNextSync()
      const failed = yield* request(base, "PUT", "/stores/s/keys/lost", { body: 1 })
      expect(failed.status).toBe(503)
      expect(failed.headers.get("retry-after")).toBe("1")
      expect(failed.json).toMatchObject({ error: "StorageError" })
      expect((yield* request(base, "GET", "/stores/s/keys/lost")).status).toBe(404)
      expect((yield* putUntil(base, "/stores/s/keys/b", 503)).reply.status).toBe(200)
    }))
})
