/**
 * kill -9: a child process writes with `sync: "always"` and prints every acknowledgement; it is
 * killed at a random moment, the folder is reopened, and every acknowledged write must be there
 * with its exact bytes, every acknowledged delete still deleted, and each atomic write entirely
 * there or entirely absent. `KV_KILL_CYCLES` sets the number
 * of cycles (default 50); `KV_KILL_SEED` replays a run.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { KV } from "../../src/kv/KV.js"
import { verify } from "../../src/storage/Verify.js"
import { Acks, checkRecovered, type Write } from "./fixtures/Acks.js"
import { AtomicAcks, checkAtomicGroups, type AtomicWrite } from "./fixtures/AtomicGroups.js"
import { childScript, removeChildScript, startChild } from "./fixtures/Child.js"
import { random } from "./fixtures/Workload.js"

const cycles = Number(process.env.KV_KILL_CYCLES ?? 50)
const seed = Number(process.env.KV_KILL_SEED ?? 7)

afterAll(removeChildScript)

describe("kill -9", () => {
  it("keeps every acknowledged write", async () => {
    await childScript()
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-kill-"))
    const acks = new Acks()
    const atomicAcks = new AtomicAcks()
    const next = random(seed)
    let tornTails = 0
    for (let cycle = 0; cycle < cycles; cycle++) {
      const child = await startChild(["write", dataDir, String(seed * 1000 + cycle)])
      const killAfter = 1 + Math.floor(next() * 200)
      let seen = 0
      child.lines((line) => {
        if ("attempt" in line) acks.attempt(line.attempt as Write)
        else if ("atomicAttempt" in line) atomicAcks.attempt(line.atomicAttempt as AtomicWrite)
        else if ("atomicAck" in line) atomicAcks.acknowledge(line.atomicAck as AtomicWrite, line.version as number)
        else if ("ack" in line) {
          acks.acknowledge(line.ack as Write, line.version as number)
          if (++seen === killAfter) child.process.kill("SIGKILL")
        }
      })
      const code = await child.exited
      expect(code, "the child ends only by the kill").toBe(null)

      const report = await Effect.runPromise(verify(dataDir).pipe(Effect.provide(NodeFileSystem.layer)))
      expect(report.ok).toBe(true)
      tornTails += report.files.filter((file) => file.status._tag === "TornTail").length
      const problems = await Effect.runPromise(
        Effect.zipWith(checkRecovered(acks), checkAtomicGroups(atomicAcks, "delta"), (a, b) => [...a, ...b]).pipe(
          Effect.provide(KV.layer({ dataDir }))
        )
      )
      expect(problems, `cycle ${cycle} (seed ${seed})`).toEqual([])
    }
    expect(acks.acknowledged).toBeGreaterThanOrEqual(cycles)
    expect(atomicAcks.acknowledged).toBeGreaterThan(0)
    console.log(
      `kill -9: ${cycles} cycles, ${acks.acknowledged} acknowledged writes and ${atomicAcks.acknowledged} atomic writes, ` +
        `${tornTails} torn tails cut`
    )
    fs.rmSync(dataDir, { recursive: true, force: true })
  }, 120_000)
})
