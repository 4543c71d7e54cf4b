/**
 * Every request is answered within its deadline, under overload on a slow disk: the finding of
 * issue 9 was that thousands of requests got no answer at all, long after the load stopped,
 * because requests waiting outside a store's mailbox (for a store to open, for their turn to read
 * a large body) had no deadline. Here all of those waits happen at once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { KV } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import { slowDisk } from "../storage/fixtures/FaultyFileSystem.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { kvWith, makeControl } from "../kv/crashable.js"
import { fire, type Shot, tally } from "./load.js"
import { rawRequest, request, serve } from "./server.js"

const json = { "content-type": "application/json" }

/** The TCP connections this process has open (the listening socket is not one). */
const openConnections = () => process.getActiveResourcesInfo().filter((resource) => resource === "TCPSocketWrap").length

describe("deadlines over HTTP", () => {
  it.scopedLive("overload on a slow disk: every request is answered, 503 or 504 past its deadline, and the server is idle after", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      // A store with data on disk, which the server will have to open while the disk does not answer reads.
      yield* Effect.flatMap(KV, (kv) => kv.put("cold", "k", 0)).pipe(Effect.provide(KV.layer({ dataDir })))
      // Most fsyncs take up to 100 ms, one in five 1.5 s: the batches that meet one outlast the deadline of 1 s.
      const disk = slowDisk(() => Math.random() < 0.8 ? 10 + Math.random() * 100 : 1500)
      const base = yield* serve(
        { requestTimeout: "1 second", maxBodyBytesInFlight: 256 * 1024 },
        KV.layerFrom(Storage.layerFile({ dataDir }).pipe(Layer.provide(disk.layer)), { callTimeout: "1 second" })
      )
      // The stores written are running; from now on the disk answers no read, so "cold" cannot open
      // (and no store can start while it tries: stores start one at a time).
      for (const store of ["s0", "s1", "s2", "s3"]) yield* request(base, "PUT", `/stores/${store}/keys/first`, { body: 0 })
      const reads = disk.holdReads()
      yield* Effect.addFinalizer(() => reads.release) // before the server stops, which waits for the store it opens

      // 2,000 requests at once on 256 connections: many times what the server answers within the
      // deadline. Small and large (100 KiB, over the budget's threshold) writes to four stores,
      // reads and writes of the store that cannot open, and drops of stores being written.
      const large = JSON.stringify("x".repeat(100 * 1024))
      const shots: Array<Shot> = []
      for (let i = 0; i < 2000; i++) {
        const store = `s${i % 4}`
        if (i % 10 === 0) shots.push({ method: "PUT", path: `/stores/${store}/keys/large${i}`, body: large })
        else if (i % 10 === 1) shots.push({ method: "GET", path: "/stores/cold/keys/k" })
        else if (i % 10 === 2) shots.push({ method: "PUT", path: `/stores/cold/keys/k${i}`, body: String(i) })
        else if (i % 500 === 3) shots.push({ method: "DELETE", path: `/stores/${store}` })
        else shots.push({ method: "PUT", path: `/stores/${store}/keys/k${i}`, body: JSON.stringify({ i }) })
      }
      const answers = yield* fire(base, shots, 256)

      const counts = tally(answers)
      const expected = /^(200|204|503 (Overloaded|CallTimeout)|504 OutcomeUnknown)$/
      expect(Object.keys(counts).filter((answer) => !expected.test(answer)), JSON.stringify(counts)).toEqual([])
      expect(counts["200"], JSON.stringify(counts)).toBeGreaterThan(0)
      expect(counts["503 CallTimeout"], JSON.stringify(counts)).toBeGreaterThan(0)
      expect(counts["503 Overloaded"], JSON.stringify(counts)).toBeGreaterThan(0)
      expect(counts["504 OutcomeUnknown"], JSON.stringify(counts)).toBeGreaterThan(0)
      // Every request to the store that could not open was answered at its deadline, never applied.
      const cold = answers.filter((_, i) => shots[i]!.path.startsWith("/stores/cold/"))
      expect(new Set(cold.map(({ error, status }) => `${status} ${error}`))).toEqual(new Set(["503 CallTimeout"]))

      // Idle after: no connection is left open, and once the disk answers, every store takes a write.
      yield* reads.release
      disk.setSyncDelay(0)
      while (openConnections() > 0) yield* Effect.sleep("20 millis")
      for (const store of ["s0", "s1", "s2", "s3", "cold"]) {
        let reply = yield* request(base, "PUT", `/stores/${store}/keys/after`, { body: 1 })
        // A batch that outlasted its callers may still be writing: its store answers once it is done.
        while (reply.status === 503 || reply.status === 504) {
          yield* Effect.sleep("50 millis")
          reply = yield* request(base, "PUT", `/stores/${store}/keys/after`, { body: 1 })
        }
        expect(reply.status).toBe(200)
      }
      expect((yield* request(base, "GET", "/stores/cold/keys/k")).json).toBe(0)
    }))

  it.scopedLive("a large body that does not get its turn to be read within requestTimeout: 503 Overloaded, nothing done", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const base = yield* serve({ requestTimeout: "200 millis", maxBodyBytesInFlight: 150 * 1024 }, kvWith(control))
      const large = (n: number) => JSON.stringify(`${n}`.padEnd(100 * 1024, "x"))
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      control.gate = gate
      control.entered = entered
      // The first holds 100 KiB of the budget of 150 while its store writes it; the second does not fit.
      const first = yield* Effect.fork(rawRequest(base, "PUT", "/stores/s/keys/first", { body: large(1), headers: json }))
      yield* Deferred.await(entered)
      const second = yield* rawRequest(base, "PUT", "/stores/s/keys/second", { body: large(2), headers: json })
      expect(second.status).toBe(503)
      expect(second.headers.get("retry-after")).toBe("1")
      expect(second.json).toMatchObject({ error: "Overloaded" })
      expect((second.json as { message: string }).message).toContain("did not get its turn within 200 ms")

      control.gate = undefined
      yield* Deferred.succeed(gate, undefined)
      expect((yield* Fiber.join(first)).status).toBe(200)
      expect((yield* request(base, "GET", "/stores/s/keys/second")).status).toBe(404)
      // The budget is whole again: a large body is read at once.
      expect((yield* rawRequest(base, "PUT", "/stores/s/keys/third", { body: large(3), headers: json })).status).toBe(200)
    })
  })
})
