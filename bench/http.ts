/**
 * HTTP requests per second at 50 connections, each figure beside its baseline in interleaved
 * rounds (`./rounds.ts`): our server (fast path on, its default) beside a bare `node:http` server
 * holding a `Map`, for GET of a key, durable PUT and durable DELETE (the bare server then appends to
 * a log with group-committed `fdatasync`, as our `sync: "always"` does), and beside Redis GET and
 * SET with `appendfsync always` when `redis-server` is on the PATH. Further lines: the fast path
 * beside the declared path alone (`fastPath: false`), `@effect/platform`'s router with one route
 * beside the bare server (the framework's ceiling), what serving the console costs, and the heap
 * of this process across a 60 s load (`KV_BENCH_SOAK_SECONDS` changes it).
 *
 * HTTP load comes from autocannon in a worker thread (the server keeps the main one); Redis load
 * from `redis-benchmark`, a C client, in a process of its own. Timeouts and errors of the load
 * generator are counted and printed, never thrown; a section that fails says so and the others run.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Metric, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import { createRequire } from "node:module"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Server from "../src/http/Server.js"
import { KV } from "../src/kv/KV.js"
import { collectGarbage, heading, report } from "./report.js"
import { compare, type Measure } from "./rounds.js"

interface Result {
  readonly requests: { readonly total: number }
  /** Seconds the run took, to the hundredth. */
  readonly duration: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
}

interface Request {
  readonly method: string
  readonly path?: string
  readonly body?: string
  readonly headers?: Record<string, string>
  /** A module (CommonJS) whose default export sets each request's path: the worker cannot take a function. */
  readonly setupRequest?: string
}

type Autocannon = (options: {
  readonly url: string
  readonly connections: number
  readonly duration?: number
  readonly amount?: number
  /** Milliseconds between samples (default 1,000). */
  readonly sampleInt?: number
  readonly timeout?: number
  readonly workers?: number
  readonly method?: string
  readonly body?: string
  readonly headers?: Record<string, string>
  readonly requests?: ReadonlyArray<Request>
}) => Promise<Result>

// autocannon ships no types; this is the part used here.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon

const connections = 50
const seconds = Number(process.env.KV_BENCH_HTTP_SECONDS ?? 3)
const store = "bench"
const path = `/stores/${store}/keys/some-key`
const body = JSON.stringify({ name: "Ada Lovelace", born: 1815, tags: ["math", "engines"] })
const jsonHeaders = { "content-type": "application/json" }
/** Keys deleted per round of the DELETE figures, put beforehand. */
const deletes = Number(process.env.KV_BENCH_HTTP_DELETES ?? 20_000)

/** What went wrong in the load of one figure, over its rounds: printed, never thrown. */
class Trouble {
  private readonly counts = new Map<string, { timeouts: number; errors: number; non2xx: number }>()
  add(label: string, result: Result) {
    const count = this.counts.get(label) ?? { timeouts: 0, errors: 0, non2xx: 0 }
    count.timeouts += result.timeouts
    count.errors += result.errors
    count.non2xx += result.non2xx
    this.counts.set(label, count)
  }
  print() {
    for (const [label, { errors, non2xx, timeouts }] of this.counts) {
      if (timeouts + errors + non2xx > 0) {
        console.log(`    ${label}: ${timeouts} timeouts, ${errors} errors, ${non2xx} non-2xx answers over the rounds`)
      }
    }
    this.counts.clear()
  }
}

const trouble = new Trouble()

/** Requests per second of `request` on `url`, done over the run's time; its timeouts and errors go to `trouble`. */
const load = async (label: string, url: string, request: Request, options: { duration?: number; amount?: number } = {}) => {
  const result = await autocannon({
    url: url + (request.path ?? path),
    connections,
    // A run of a fixed amount ends at the sample tick after its last answer: ticks of 10 ms, not
    // the default second, which made every DELETE round last a whole number of seconds.
    ...(options.amount === undefined ? { duration: options.duration ?? seconds } : { amount: options.amount, sampleInt: 10 }),
    timeout: 10,
    workers: 1,
    requests: [request]
  })
  trouble.add(label, result)
  // Requests done over the run's seconds, not autocannon's `requests.average`: the mean of its
  // samples, one a tick, counts a run of a fixed amount's last tick as a whole one.
  return result.requests.total / result.duration
}

const get: Request = { method: "GET" }
const put: Request = { method: "PUT", body, headers: jsonHeaders }

interface Running {
  readonly url: string
  /** Puts `count` keys `d0`, `d1`, … for a round of deletes. */
  readonly populate: (count: number) => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * A log whose appends are acknowledged after `fdatasync`: appends that come while one is being
 * synced wait and go together in the next write and sync (a group commit, as our writers do).
 */
const groupCommitLog = (file: string) => {
  const fd = Fs.openSync(file, "a")
  let waiting: Array<{ readonly record: Buffer; readonly done: () => void }> = []
  let syncing = false
  const commit = () => {
    if (syncing || waiting.length === 0) return
    syncing = true
    const batch = waiting
    waiting = []
    Fs.write(fd, Buffer.concat(batch.map((entry) => entry.record)), (error) => {
      if (error) throw error
      Fs.fdatasync(fd, (error) => {
        if (error) throw error
        syncing = false
        for (const entry of batch) entry.done()
        commit()
      })
    })
  }
  return {
    append: (record: string, done: () => void) => {
      waiting.push({ record: Buffer.from(record + "\n"), done })
      commit()
    },
    close: () => Fs.closeSync(fd)
  }
}

/** The baseline: `node:http` and a `Map`, doing what our routes do with no framework; durable with a log file. */
const bareServer = async (logFile?: string): Promise<Running> => {
  const map = new Map<string, { value: unknown; version: number }>()
  const log = logFile === undefined ? undefined : groupCommitLog(logFile)
  let version = 0
  const prefix = `/stores/${store}/keys/`
  const server = Http.createServer((request, response) => {
    const key = decodeURIComponent(request.url!.slice(prefix.length))
    if (request.method === "GET") {
      const entry = map.get(key)
      if (entry === undefined) return void response.writeHead(404).end()
      response.writeHead(200, { "content-type": "application/json", etag: `"${entry.version}"` })
      return void response.end(JSON.stringify(entry.value))
    }
    if (request.method === "DELETE") {
      if (!map.delete(key)) return void response.writeHead(404).end()
      const deleted = ++version
      if (log === undefined) return void response.writeHead(204).end()
      return log.append(JSON.stringify({ delete: key, version: deleted }), () => response.writeHead(204).end())
    }
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const written = ++version
      map.set(key, { value: JSON.parse(text), version: written })
      const answer = () => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: written }))
      if (log === undefined) return answer()
      log.append(`{"put":${JSON.stringify(key)},"version":${written},"value":${text}}`, answer)
    })
  })
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    populate: async (count) => {
      for (let i = 0; i < count; i++) map.set(`d${i}`, { value: JSON.parse(body), version: ++version })
    },
    close: () =>
      new Promise<void>((closed) =>
        server.close(() => {
          log?.close()
          closed()
        })
      )
  }
}

/** A platform `HttpServer` layer, started on a free port until `close`. */
const startLayer = async <R>(layer: Layer.Layer<HttpServer.HttpServer | R, unknown>) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return { context, url: `http://127.0.0.1:${address.port}`, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** Our server on `kv`. */
const ourServer = async (kv: Layer.Layer<KV, unknown>, options: Server.ServerOptions = {}): Promise<Running> => {
  const { close, context, url } = await startLayer(Server.layer({ port: 0, ...options }).pipe(Layer.provideMerge(kv)))
  const service = Context.get(context, KV)
  return {
    url,
    // In atomic writes of 1,000 puts: populating is not what is measured.
    populate: async (count) => {
      for (let from = 0; from < count; from += 1000) {
        const ops = Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
          op: "put" as const,
          key: `d${from + i}`,
          value: JSON.parse(body) as unknown
        }))
        await Effect.runPromise(service.atomic(store, { ops }))
      }
    },
    close
  }
}

/** The framework's floor: `@effect/platform`'s router on Node with one route and nothing behind it. */
const platformServer = async (): Promise<Running> => {
  const ok = HttpServerResponse.unsafeJson({ name: "Ada Lovelace" })
  const router = HttpRouter.empty.pipe(HttpRouter.get("/stores/bench/keys/:key", Effect.succeed(ok)))
  const { close, url } = await startLayer(
    HttpServer.serve(router).pipe(Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" })))
  )
  return { url, populate: async () => {}, close }
}

/** A module for autocannon's worker that sends each DELETE to the next key `d0`, `d1`, …. */
const deleteSetup = (dir: string) => {
  const file = Path.join(dir, "delete-next-key.cjs")
  Fs.writeFileSync(file, `let next = 0\nmodule.exports = (request) => ({ ...request, path: ${JSON.stringify(`/stores/${store}/keys/d`)} + next++ })\n`)
  return file
}

/** One side of a DELETE comparison: the keys are put before each round, outside the time measured. */
const deleting = (label: string, server: Running, setup: string): Measure => ({
  label,
  run: async () => {
    await server.populate(deletes)
    return load(label, server.url, { method: "DELETE", setupRequest: setup }, { amount: deletes })
  }
})

const loading = (label: string, server: Running, request: Request): Measure => ({
  label,
  run: () => load(label, server.url, request)
})

/** Runs `measure` with `servers` started, closing them after; a failure is printed, and the benchmark goes on. */
const section = async (
  name: string,
  servers: ReadonlyArray<() => Promise<Running>>,
  measure: (running: ReadonlyArray<Running>) => Promise<void>
) => {
  const running: Array<Running> = []
  try {
    for (const start of servers) running.push(await start())
    for (const server of running) {
      await fetch(server.url + path, { method: "PUT", body, headers: jsonHeaders })
    }
    await measure(running)
  } catch (error) {
    console.log(`  ${name}: failed, the other figures go on: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    trouble.print()
    for (const server of running.reverse()) await server.close().catch(() => {})
  }
}

const tempDir = (name: string) => Fs.mkdtempSync(Path.join(Os.tmpdir(), `effect-kv-bench-${name}-`))

const durable = (dataDir: string) => KV.layer({ dataDir, sync: "always" })

// Redis, when it is installed: the same figures from a server built for them.

interface Redis {
  readonly port: number
  readonly close: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = Net.createServer()
    probe.on("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

const redisAnswers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write("PING\r\n"))
    socket.on("data", (data: Buffer) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.on("error", () => resolve(false))
  })

const onPath = (command: string) => ChildProcess.spawnSync(command, ["--version"], { stdio: "ignore" }).error === undefined

/** `redis-server` with every write fsync'd before its answer (`appendfsync always`), in `dir`. */
const startRedis = async (dir: string): Promise<Redis> => {
  const port = await freePort()
  const child = ChildProcess.spawn("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
    "--appendonly", "yes", "--appendfsync", "always"
  ], { stdio: "ignore" })
  for (let i = 0; !(await redisAnswers(port)); i++) {
    if (i > 200) throw new Error("redis-server did not answer within 10 s")
    await new Promise((wait) => setTimeout(wait, 50))
  }
  // GET reads a value as large as ours.
  ChildProcess.spawnSync("redis-cli", ["-p", String(port), "SET", "key:__rand_int__", body])
  return {
    port,
    close: () =>
      new Promise<void>((closed) => {
        child.once("exit", () => closed())
        child.kill("SIGTERM")
      })
  }
}

/** Requests per second of `redis-benchmark` (GET or SET of a value as large as ours) at our concurrency. */
const redisLoad = (redis: Redis, test: "get" | "set", requests: number): Measure => ({
  label: `Redis ${test.toUpperCase()}`,
  run: async () => {
    const run = ChildProcess.spawnSync("redis-benchmark", [
      "-p", String(redis.port), "-c", String(connections), "-n", String(requests), "-t", test,
      "-d", String(body.length), "-P", "1", "--csv"
    ], { encoding: "utf8" })
    const line = run.stdout.split("\n").find((row) => row.toLowerCase().startsWith(`"${test}"`))
    const rate = line === undefined ? Number.NaN : Number(line.split(",")[1]!.replaceAll("\"", ""))
    if (!Number.isFinite(rate)) console.log(`    redis-benchmark gave no figure: ${run.stderr.slice(0, 200)}`)
    return rate
  }
})

const withRedis = async (ours: Running, dir: string) => {
  if (!onPath("redis-server") || !onPath("redis-benchmark")) {
    console.log("  Redis: redis-server or redis-benchmark is not on the PATH, so no Redis figures (apt-get install redis-server)")
    return
  }
  const redis = await startRedis(dir)
  try {
    await compare("GET, beside Redis GET", loading("ours", ours, get), redisLoad(redis, "get", 100_000), { unit: "req/s" })
    await compare("durable PUT, beside Redis SET (appendfsync always)", loading("ours", ours, put), redisLoad(redis, "set", 40_000), {
      unit: "req/s"
    })
  } finally {
    await redis.close()
  }
}

/**
 * What serving the web console costs the hot route: GET of a key on a server with the console
 * (its routes on the same router) beside one without, the declared path only (the fast path takes
 * GET before any route is looked up).
 */
const consoleCost = () =>
  section("console", [
    () => ourServer(KV.layerMemory(), { console: true, fastPath: false }),
    () => ourServer(KV.layerMemory(), { console: false, fastPath: false })
  ], async ([withConsole, without]) => {
    await compare("GET of a key, with the console at /ui (declared path)", loading("with", withConsole!, get), loading("without the console", without!, get), {
      unit: "req/s"
    })
  })

/** The heap after a full GC (exact with `node --expose-gc`, as `npm run bench` runs). */
const heapUsed = () => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/** Our server's heap after a warm-up, and again after a long load of PUTs and GETs. */
const soak = () =>
  section("soak", [() => ourServer(KV.layerMemory())], async ([server]) => {
    const soakSeconds = Number(process.env.KV_BENCH_SOAK_SECONDS ?? 60)
    await load("soak", server!.url, put, { duration: 5 })
    const before = heapUsed()
    await Promise.all([load("soak", server!.url, put, { duration: soakSeconds }), load("soak", server!.url, get, { duration: soakSeconds })])
    const after = heapUsed()
    report(`heap after ${soakSeconds} s of PUT and GET load`, after / 2 ** 20, "MiB", {
      label: "after a 5 s warm-up",
      value: before / 2 ** 20
    })
  })

export const run = async () => {
  heading(`HTTP, ${connections} connections, ${seconds} s a figure a round (autocannon; redis-benchmark for Redis)`)
  const answeredBefore = (await Effect.runPromise(Metric.value(Server.fastPathRequests))).count
  await section("GET", [() => ourServer(KV.layerMemory()), () => bareServer()], async ([ours, bare]) => {
    await compare("GET /stores/{store}/keys/{key}", loading("ours", ours!, get), loading("node:http + Map", bare!, get), { unit: "req/s" })
  })
  const dir = tempDir("http")
  try {
    const setup = deleteSetup(dir)
    await section("durable PUT and DELETE", [
      () => ourServer(durable(Path.join(dir, "ours"))),
      () => bareServer(Path.join(dir, "bare.log"))
    ], async ([ours, bare]) => {
      await compare("durable PUT (sync: always)", loading("ours", ours!, put), loading("node:http + Map + fsync'd log", bare!, put), {
        unit: "req/s"
      })
      await compare(
        `durable DELETE (sync: always), ${deletes} keys a round`,
        deleting("ours", ours!, setup),
        deleting("node:http + Map + fsync'd log", bare!, setup),
        { unit: "req/s" }
      )
      const redisDir = Path.join(dir, "redis")
      Fs.mkdirSync(redisDir)
      await withRedis(ours!, redisDir)
    })
    await section("fast path", [
      () => ourServer(durable(Path.join(dir, "fast"))),
      () => ourServer(durable(Path.join(dir, "declared")), { fastPath: false })
    ], async ([fast, declared]) => {
      await compare("GET, fast path beside the declared path alone", loading("fast path", fast!, get), loading("declared", declared!, get), {
        unit: "req/s"
      })
      await compare("durable PUT, fast path beside the declared path", loading("fast path", fast!, put), loading("declared", declared!, put), {
        unit: "req/s"
      })
    })
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  const answered = (await Effect.runPromise(Metric.value(Server.fastPathRequests))).count - answeredBefore
  console.log(`  requests the fast path answered in these figures: ${answered.toLocaleString("en-US")}`)
  await section("platform", [platformServer, () => bareServer()], async ([platform, bare]) => {
    await compare("GET, @effect/platform router alone (the floor)", loading("router", platform!, get), loading("node:http + Map", bare!, get), {
      unit: "req/s"
    })
  })
  await consoleCost()
  await soak()
}
