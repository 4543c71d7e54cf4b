/**
 * The change feed in process (`KV.layerMemory`, one store, 100 callers putting 100-byte values
 * over 10,000 keys), each figure beside its baseline in interleaved rounds (`./rounds.ts`):
 *
 * - acknowledged writes per CPU-second with 100 watchers reading every event, beside the same
 *   with none (target: at least 0.8x): the watchers reading `subscription.changes` (a `Stream`),
 *   then `subscription.pull` in `Effect.forever`, then `pull` in a loop that does not yield
 *   between turns (see `Reading`). CPU time, not wall time: on a machine shared with other
 *   work the wall clock measures the others as much as this process. Twice: the whole process's,
 *   and its main thread's alone (Linux), which leaves out V8's helper threads: where another core
 *   is free to run them, the main thread is what bounds the writes;
 * - events/s delivered to 1 watcher beside the writes/s with none (the most it could get), and to
 *   100 watchers (all of them together) beside 1;
 * - per write, its event's arrival at a watcher less its acknowledgement's arrival at its caller
 *   (negative: the watcher had it first), median and p99 (target: p99 at most 5 ms); and the
 *   time from the call to the event beside the time from the call to the acknowledgement;
 * - on disk (`sync: "always"`), acknowledged writes per second with 100 watchers reading
 *   `changes`, beside the same with none: the wall clock, as a durable store's rate is bounded by
 *   its fsyncs as much as by its CPU;
 * - over HTTP (`runOverHttp`, `npm run bench watch-http`): acknowledged writes per CPU-second of
 *   the server's process with 100 SSE clients in a child process, beside none.
 */
import { HttpServer } from "@effect/platform"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Chunk, Duration, Effect, Layer, ManagedRuntime, Option, Stream } from "effect"
import type { WatchLagged } from "../src/kv/Errors.js"
import * as Server from "../src/http/Server.js"
import type { Subscription } from "../src/kv/Feed.js"
import { KV, type KVService } from "../src/kv/KV.js"
import type { Change } from "../src/storage/Change.js"
import { collectGarbage, effectOpsPerSecond, format, heading, mainThreadCpuSeconds, report } from "./report.js"
import { compare } from "./rounds.js"

const keyCount = 10_000
const keys = Array.from({ length: keyCount }, (_, i) => `key-${i}`)
const value = "v".repeat(100)
const callers = 100
const millis = 1000

/** What one run measured. */
interface Run {
  readonly writesPerSecond: number
  readonly writesPerCpuSecond: number
  /** Per CPU-second of the main thread alone; NaN where that cannot be read. */
  readonly writesPerMainThreadCpuSecond: number
  /** Events received by all the watchers together, per second, until the last caught up. */
  readonly eventsPerSecond: number
  /** Per write, in ms: event (at the first watcher) less acknowledgement; call to event; call to acknowledgement. */
  readonly ackToEvent: Array<number>
  readonly callToEvent: Array<number>
  readonly callToAck: Array<number>
}

/**
 * How the watchers read: `subscription.changes` with `Stream.runForEachChunk`; `subscription.pull`
 * in `Effect.forever`, which yields to the scheduler after each turn; or `pull` in a loop that
 * does not (the run loop still yields every 2,048 steps).
 */
type Reading = "stream" | "forever" | "pull"

/** Runs `f` on each chunk of `subscription`'s changes, read as `reading` says, until the watch ends. */
const readEach = (subscription: Subscription, reading: Reading, f: (changes: Chunk.Chunk<Change>) => void) => {
  if (reading === "stream") return Stream.runForEachChunk(subscription.changes, (changes) => Effect.sync(() => f(changes)))
  const loop: Effect.Effect<never, Option.Option<WatchLagged>> = reading === "forever"
    ? Effect.forever(Effect.map(subscription.pull, f))
    : Effect.flatMap(subscription.pull, (changes) => {
      f(changes)
      return loop
    })
  return Effect.catchAll(loop, Option.match({ onNone: () => Effect.void, onSome: Effect.fail }))
}

/**
 * 100 callers write for `millis` ms while `watchers` watchers read every event. The times of each
 * call, acknowledgement and event are taken only when `timed`: the throughput figures leave that
 * bookkeeping out, which the first watcher's side alone would otherwise pay (2% of the CPU of a
 * run with 100 watchers, in a profile).
 */
const measure = (
  kv: KVService,
  store: string,
  watchers: number,
  reading: Reading = "stream",
  timed = false
): Effect.Effect<Run, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const subscriptions = yield* Effect.forEach(Array.from({ length: watchers }), () => kv.subscribe(store))
    const from = subscriptions[0]?.since ?? 0
    const acked = new Map<number, number>()
    const called: Array<number> = []
    const seen = new Map<number, number>()
    const last = subscriptions.map(() => from)
    let delivered = 0
    yield* Effect.forEach(subscriptions, (subscription, w) =>
      Effect.forkScoped(readEach(subscription, reading, (changes) => {
        delivered += changes.length
        const version = Chunk.unsafeLast(changes).version
        last[w] = version
        if (timed && w === 0) {
          const now = performance.now()
          for (const change of changes) seen.set(change.version, now)
        }
      })), { discard: true })
    // What the run before left behind is collected now, not on this run's CPU time.
    collectGarbage()
    const cpu = process.cpuUsage()
    const mainCpu = mainThreadCpuSeconds()
    const start = performance.now()
    let writes = 0
    const counted = () => {
      writes++
    }
    const writesPerSecond = yield* effectOpsPerSecond(callers, (i) =>
      timed
        ? Effect.suspend(() => {
          const at = performance.now()
          return Effect.map(kv.put(store, keys[i % keyCount]!, value), (version) => {
            writes++
            acked.set(version, performance.now())
            called[version] = at
          })
        })
        : Effect.map(kv.put(store, keys[i % keyCount]!, value), counted), millis)
    const used = process.cpuUsage(cpu)
    const mainUsed = mainCpu === undefined ? Number.NaN : mainThreadCpuSeconds()! - mainCpu
    const final = from + writes
    while (last.some((version) => version < final)) yield* Effect.sleep(Duration.millis(1))
    const caughtUp = performance.now()
    const ackToEvent: Array<number> = []
    const callToEvent: Array<number> = []
    const callToAck: Array<number> = []
    for (const [version, ack] of acked) {
      callToAck.push(ack - called[version]!)
      const event = seen.get(version)
      if (event === undefined) continue
      ackToEvent.push(event - ack)
      callToEvent.push(event - called[version]!)
    }
    return {
      writesPerSecond,
      writesPerCpuSecond: writes / ((used.user + used.system) / 1e6),
      writesPerMainThreadCpuSecond: writes / mainUsed,
      eventsPerSecond: delivered / ((caughtUp - start) / 1000),
      ackToEvent,
      callToEvent,
      callToAck
    }
  }))

const quantile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const median = (values: ReadonlyArray<number>) => quantile(values, 0.5)

export const run = async () => {
  heading("Watch in memory: one store, 100 callers writing, watchers reading every event")
  const runtime = ManagedRuntime.make(KV.layerMemory({ callTimeout: Duration.seconds(30) }))
  const kv = await runtime.runPromise(KV)
  let store = 0
  // A fresh store per run: the same work each time, and no history left over.
  const once = (watchers: number, reading?: Reading, timed?: boolean) =>
    runtime.runPromise(measure(kv, `bench-${store++}`, watchers, reading, timed))

  for (const reading of ["stream", "forever", "pull"] as const) {
    const watching = `100 watchers, ${reading === "stream" ? "changes" : reading === "forever" ? "pull, forever" : "pull"}`
    await compare(
      "acknowledged writes per CPU-second",
      { label: watching, run: async () => (await once(100, reading)).writesPerCpuSecond },
      { label: "none", run: async () => (await once(0)).writesPerCpuSecond },
      { unit: "ops/s", rounds: 7 }
    )
    if (mainThreadCpuSeconds() === undefined) console.log("  (no main-thread CPU figure: /proc/self/task cannot be read here)")
    else {
      await compare(
        "acknowledged writes per main-thread CPU-second",
        { label: watching, run: async () => (await once(100, reading)).writesPerMainThreadCpuSecond },
        { label: "none", run: async () => (await once(0)).writesPerMainThreadCpuSecond },
        { unit: "ops/s", rounds: 7 }
      )
    }
  }
  await compare(
    "events/s delivered",
    { label: "to 1 watcher", run: async () => (await once(1)).eventsPerSecond },
    { label: "writes/s, none", run: async () => (await once(0)).writesPerSecond },
    { unit: "events/s" }
  )
  await compare(
    "",
    { label: "to 100 watchers", run: async () => (await once(100)).eventsPerSecond },
    { label: "to 1 watcher", run: async () => (await once(1)).eventsPerSecond },
    { unit: "events/s" }
  )

  // Both distributions come from the same writes of each round; the medians over 5 rounds.
  for (const watchers of [1, 100]) {
    const rounds: Array<Run> = []
    await once(watchers, "stream", true)
    for (let i = 0; i < 5; i++) rounds.push(await once(watchers, "stream", true))
    const over = (pick: (run: Run) => number) => median(rounds.map(pick))
    const label = `${watchers} watcher${watchers === 1 ? "" : "s"}`
    report(`event less ack, ${label}, median`, over((r) => median(r.ackToEvent)), "ms")
    report(`event less ack, ${label}, p99`, over((r) => quantile(r.ackToEvent, 0.99)), "ms")
    for (const [name, q] of [["median", 0.5], ["p99", 0.99]] as const) {
      report(`call to event, ${label}, ${name}`, over((r) => quantile(r.callToEvent, q)), "ms", {
        label: "call to ack",
        value: over((r) => quantile(r.callToAck, q))
      })
    }
    console.log(`    (${format(over((r) => r.ackToEvent.length))} writes a round; the first watcher's events)`)
  }
  await runtime.dispose()

  heading("Watch on disk: the same, the store's writes durable (sync: \"always\")")
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-kv-bench-watch-"))
  const disk = ManagedRuntime.make(KV.layer({ dataDir, sync: "always", callTimeout: Duration.seconds(30) }))
  try {
    const durable = await disk.runPromise(KV)
    const onDisk = (watchers: number) => disk.runPromise(measure(durable, `bench-${store++}`, watchers)).then((run) => run.writesPerSecond)
    await compare(
      "acknowledged writes/s",
      { label: "100 watchers, changes", run: () => onDisk(100) },
      { label: "none", run: () => onDisk(0) },
      { unit: "ops/s", rounds: 7 }
    )
  } finally {
    await disk.dispose()
    Fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * `npm run bench watch-http`: writes beside none with 100 SSE clients (`GET /stores/{store}/watch`)
 * in a child process, by the CPU of the server's process, where the writes are made in process.
 */
export const runOverHttp = async () => {
  heading("Watch over HTTP: the server's store in memory, SSE clients in a process of their own")
  let store = 0
  const served = ManagedRuntime.make(
    Server.layer({ port: 0 }).pipe(Layer.provideMerge(KV.layerMemory({ callTimeout: Duration.seconds(30) })))
  )
  try {
    const { address } = await served.runPromise(HttpServer.HttpServer)
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    const url = `http://127.0.0.1:${address.port}`
    const kvServed = await served.runPromise(KV)
    const viaHttp = async (clients: number) => {
      const name = `bench-${store++}`
      const watching = clients === 0 ? undefined : await sseClients(`${url}/stores/${name}/watch`, clients)
      try {
        return await served.runPromise(measure(kvServed, name, 0))
      } finally {
        await watching?.close()
      }
    }
    await compare(
      "acknowledged writes per CPU-second of the server",
      { label: "100 SSE clients", run: async () => (await viaHttp(100)).writesPerCpuSecond },
      { label: "none", run: async () => (await viaHttp(0)).writesPerCpuSecond },
      { unit: "ops/s", rounds: 7 }
    )
  } finally {
    await served.dispose()
  }
}

/**
 * `count` SSE clients of `url` in a child process, each reading every byte; resolves once each has
 * its stream's opening `id:`. `close` ends the process.
 */
const sseClients = (url: string, count: number) =>
  new Promise<{ readonly close: () => Promise<void> }>((opened, failed) => {
    const script = `
      const http = require("node:http")
      const agent = new http.Agent({ maxSockets: Infinity })
      let open = 0
      for (let i = 0; i < ${count}; i++) {
        http.get(${JSON.stringify(url)}, { agent }, (response) => {
          let first = true
          response.on("data", () => {
            if (first && ++open === ${count}) process.stdout.write("open\\n")
            first = false
          })
        })
      }
      process.stdin.on("end", () => process.exit(0)).resume()`
    const child = ChildProcess.spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", failed)
    child.stdout.once("data", () => opened({ close: () => (child.stdin.end(), exited) }))
  })
