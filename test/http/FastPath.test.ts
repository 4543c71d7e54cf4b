/**
 * The fast path answers as the declared path does, byte for byte: the same requests go to a server
 * with the fast path and to one without it (each on its own data folder, on a clock that both
 * share), and their answers are compared whole, but for `Date`; so are the lines they log. A fixed
 * corpus covers every status and header case of GET, PUT and DELETE of a key, and says which of its
 * requests the fast path takes (the counter must move for exactly those); fast-check adds random ones.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Exit, FiberRef, HashMap, HashSet, Layer, Logger, LogLevel, Metric, Scope } from "effect"
import { FileSystem, HttpServer } from "@effect/platform"
import * as fc from "fast-check"
import * as Net from "node:net"
import * as Server from "../../src/http/Server.js"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"
import * as MemoryTracer from "../fixtures/MemoryTracer.js"
import { diskFull, slowDisk } from "../storage/fixtures/FaultyFileSystem.js"
import { tempDir } from "../storage/fixtures/TempDir.js"

/** One request, and whether the fast path must answer it (undefined: not asserted). */
interface Shot {
  readonly method: string
  readonly path: string
  readonly headers?: ReadonlyArray<readonly [string, string]>
  readonly body?: string | Buffer
  /** Sent as `Transfer-Encoding: chunked`, with no length. */
  readonly chunked?: boolean
  readonly fast?: boolean
}

/**
 * Sends `shot` as raw bytes on its own connection; the whole answer, as bytes in latin1, without
 * its `Date` line, and with the servers' data folders (which storage errors name) named alike.
 */
const exchange = (port: number, shot: Shot) =>
  Effect.async<string>((resume) => {
    const body = shot.body === undefined ? Buffer.alloc(0) : Buffer.from(shot.body)
    const lines = [`${shot.method} ${shot.path} HTTP/1.1`, "Host: 127.0.0.1", ...(shot.headers ?? []).map(([name, value]) => `${name}: ${value}`)]
    if (shot.chunked) lines.push("Transfer-Encoding: chunked")
    else if (shot.body !== undefined) lines.push(`Content-Length: ${body.length}`)
    lines.push("Connection: close", "", "")
    const payload = shot.chunked
      ? Buffer.concat([Buffer.from(lines.join("\r\n")), Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")])
      : Buffer.concat([Buffer.from(lines.join("\r\n")), body])
    const chunks: Array<Buffer> = []
    // Not half-closed after the request: Node drops the requests of a connection whose client has ended it.
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(payload))
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    // A server that answers before reading the whole body may reset the connection: what came is the answer.
    socket.on("error", () => {})
    socket.on("close", () =>
      resume(Effect.succeed(
        Buffer.concat(chunks).toString("latin1").replace(/\r\nDate: [^\r]*/, "").replace(/effect-kv-test-\w+/g, "<data folder>")
      )))
  })

/** The log lines of a server, without their timing. */
const recordingLogger = (lines: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) => {
      const fields = HashMap.toEntries(annotations).filter(([name]) => name !== "ms").map(([name, value]) => `${name}=${String(value)}`)
      lines.push(`${logLevel.label} ${String(message)} ${fields.sort().join(" ")}`)
    })
  )

// Both servers' stores read this time: expiry times in answers agree, and nothing expires meanwhile.
const now = 1_764_512_345_678
const live = Clock.make()
const fixedClock: Clock.Clock = {
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => now,
  currentTimeMillis: Effect.succeed(now),
  unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(now) * 1_000_000n),
  sleep: (duration) => live.sleep(duration)
}

interface Setup {
  readonly debug?: boolean
  readonly liveClock?: boolean
}

interface Running {
  readonly port: number
  readonly logs: Array<string>
  /** Closes the server (it drains first). */
  readonly close: Effect.Effect<void>
}

/**
 * A server with its own `KV`, in its own scope so that a test can close it, logging to its own
 * lines only (down to debug ones if `debug`). Its stores read `fixedClock` unless `liveClock`
 * (deadlines need time to pass).
 */
const start = (options: Server.ServerOptions, kv: Layer.Layer<KV, unknown>, { debug = false, liveClock = false }: Setup) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(
      Server.layer({ port: 0, ...options }).pipe(
        Layer.provide(liveClock ? kv : kv.pipe(Layer.provide(Layer.setClock(fixedClock)))),
        Layer.provide(recordingLogger(logs)),
        Layer.provide(debug ? Logger.minimumLogLevel(LogLevel.Debug) : Layer.empty)
      ),
      scope
    ).pipe(
      Effect.orDie,
      // The logger layer sets this fiber's loggers for the scope: the next server must not inherit them.
      Effect.locally(FiberRef.currentLoggers, HashSet.empty())
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { port: address.port, logs, close: Scope.close(scope, Exit.void) } satisfies Running
  })

/** Two servers, with the fast path and without it, on `kv` (each on its own data folder by default). */
const pair = (
  options: Server.ServerOptions = {},
  kv: () => Effect.Effect<Layer.Layer<KV, unknown>, never, Scope.Scope> = () =>
    Effect.map(tempDir, (dataDir) => KV.layer({ dataDir, sync: "always", limits: { maxValueBytes: 100 } })),
  setup: Setup = {}
) =>
  Effect.gen(function*() {
    const fast = yield* start(options, yield* kv(), setup)
    const declared = yield* start({ ...options, fastPath: false }, yield* kv(), setup)
    return { fast, declared }
  })

/** The pair on file systems of their own (faulty ones), each server's stores on the live clock. */
const onDisks = (disks: ReadonlyArray<{ readonly layer: Layer.Layer<FileSystem.FileSystem> }>, options: KVOptions = {}) => {
  let next = 0
  return pair(
    {},
    () => Effect.map(tempDir, (dataDir) => KV.layerFrom(Storage.layerFile({ dataDir, sync: "always" }).pipe(Layer.provide(disks[next++]!.layer)), options)),
    { liveClock: true }
  )
}

const answered = Metric.value(Server.fastPathRequests).pipe(Effect.map((state) => state.count))

/** Sends `shot` to both; their answers must be the same, and the fast path must have taken it as `shot.fast` says. */
const compare = (
  servers: { readonly fast: Running; readonly declared: Running },
  shot: Shot,
  normalize: (answer: string) => string = (answer) => answer
) =>
  Effect.gen(function*() {
    const before = yield* answered
    const fast = normalize(yield* exchange(servers.fast.port, shot))
    const taken = (yield* answered) - before
    const declared = normalize(yield* exchange(servers.declared.port, shot))
    const label = `${shot.method} ${shot.path} ${JSON.stringify(shot.headers ?? [])}`
    expect(fast, label).toBe(declared)
    if (shot.fast !== undefined) expect(taken, `${label}: answered by the fast path`).toBe(shot.fast ? 1 : 0)
    return fast
  })

/** Each server's log lines, once both have logged as many (or after a while, to show how they differ). */
const logsOf = (servers: { readonly fast: Running; readonly declared: Running }) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && servers.fast.logs.length !== servers.declared.logs.length; i++) yield* Effect.sleep("10 millis")
    return [servers.fast.logs, servers.declared.logs] as const
  })

const json = (body: string, extra: ReadonlyArray<readonly [string, string]> = []) => ({
  headers: [["Content-Type", "application/json"] as const, ...extra],
  body
})

const key = "/stores/s/keys"

/** Every status and header case of the three routes, in an order whose versions both servers share. */
const corpus: ReadonlyArray<Shot> = [
  { method: "GET", path: `${key}/a`, fast: true }, // 404
  { method: "DELETE", path: `${key}/a`, fast: true }, // 404
  { method: "PUT", path: `${key}/a`, ...json(`{"n":1,"s":"ünï"}`), fast: true },
  { method: "GET", path: `${key}/a`, fast: true },
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", "\"1\""]], fast: true }, // 304
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", "*"]], fast: true }, // 304
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", "\"7\""]], fast: true }, // 200
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", "W/\"1\""]], fast: false }, // 304, declared
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", " \"1\" "]], fast: true }, // Node trims it
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", "\"1\", \"2\""]], fast: false }, // 400
  { method: "GET", path: `${key}/a`, headers: [["If-None-Match", "nope"]], fast: false }, // 400
  { method: "GET", path: `${key}/a`, headers: [["If-Match", "\"1\""]], fast: false },
  { method: "PUT", path: `${key}/a`, ...json("2", [["If-Match", "\"1\""]]), fast: true }, // 200, version 2
  { method: "PUT", path: `${key}/a`, ...json("3", [["If-Match", "\"1\""]]), fast: true }, // 412
  { method: "PUT", path: `${key}/a`, ...json("3", [["If-None-Match", "*"]]), fast: true }, // 412
  { method: "PUT", path: `${key}/a`, ...json("3", [["If-None-Match", "\"2\""]]), fast: true }, // 412
  { method: "PUT", path: `${key}/b`, ...json("true", [["If-None-Match", "*"]]), fast: true }, // 200
  { method: "PUT", path: `${key}/a`, ...json("3", [["If-Match", "W/\"2\""]]), fast: false }, // 400
  { method: "PUT", path: `${key}/a`, ...json("3", [["If-Match", "2"]]), fast: false }, // 400
  { method: "PUT", path: `${key}/t?ttl=30`, ...json(`"expires"`), fast: true },
  { method: "GET", path: `${key}/t`, fast: true }, // KV-Expires-At
  { method: "GET", path: `${key}/t`, headers: [["If-None-Match", "\"5\""]], fast: true }, // 304 with KV-Expires-At
  { method: "PUT", path: `${key}/t?ttl=.5`, ...json("1"), fast: true },
  { method: "PUT", path: `${key}/t?ttl=0`, ...json("1"), fast: false }, // 400
  { method: "PUT", path: `${key}/t?ttl=abc`, ...json("1"), fast: false }, // 400
  { method: "PUT", path: `${key}/t?ttl=1&ttl=2`, ...json("1"), fast: false }, // 400
  { method: "PUT", path: `${key}/t?ttl=1e3`, ...json("1"), fast: false }, // 400
  { method: "PUT", path: `${key}/t?other=1`, ...json("1"), fast: false },
  { method: "PUT", path: `${key}/t`, ...json("1"), fast: true }, // clears the expiry
  { method: "GET", path: `${key}/t`, fast: true },
  { method: "PUT", path: `${key}/text`, headers: [["Content-Type", "text/plain"]], body: "hello\nworld", fast: true },
  { method: "GET", path: `${key}/text`, fast: true },
  { method: "PUT", path: `${key}/text`, headers: [["Content-Type", "text/plain; charset=utf-8"]], body: "x", fast: true },
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "application/json; charset=utf-8"]], body: "[1]", fast: true },
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "application/merge-patch+json"]], body: "{}", fast: true },
  { method: "PUT", path: `${key}/c`, body: "null", fast: true }, // no Content-Type: JSON
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "image/png"]], body: "x", fast: false }, // 415
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "application/x-www-form-urlencoded"]], body: "a=1", fast: false }, // 415
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "text/plain; charset=latin1"]], body: "x", fast: false }, // 415
  { method: "PUT", path: `${key}/c`, ...json("{"), fast: true }, // 400 InvalidJson
  { method: "PUT", path: `${key}/c`, ...json(""), fast: false }, // 400, empty
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "application/json"]], body: Buffer.from([0x22, 0xff, 0x22]), fast: true }, // not UTF-8
  { method: "PUT", path: `${key}/c`, headers: [["Content-Type", "text/plain"]], body: Buffer.from([0xc3]), fast: true }, // not UTF-8
  { method: "PUT", path: `${key}/c`, ...json("1e400"), fast: true }, // 400 InvalidValue
  { method: "PUT", path: `${key}/c`, ...json(JSON.stringify("x".repeat(200))), fast: true }, // 413 ValueTooLarge, closes
  { method: "PUT", path: `${key}/c`, ...json(JSON.stringify("x".repeat(5000))), fast: false }, // 413 by length
  { method: "PUT", path: `${key}/c`, ...json("[2]"), chunked: true, fast: false },
  { method: "PUT", path: `${key}/c`, ...json("[3]", [["Expect", "100-continue"]]), fast: false },
  { method: "GET", path: `${key}/${"k".repeat(1025)}`, fast: true }, // 400 InvalidKey
  { method: "PUT", path: `/stores/b!d/keys/k`, ...json("1"), fast: true }, // 400 InvalidName
  { method: "DELETE", path: `/stores/${"s".repeat(200)}/keys/k`, fast: true }, // 400 InvalidName
  { method: "PUT", path: `${key}/a%2Fb%20%C3%A9%25`, ...json("1"), fast: true },
  { method: "GET", path: `${key}/a%2Fb%20%C3%A9%25`, fast: true },
  { method: "GET", path: `${key}/a%2fb%20%c3%a9%25`, fast: true },
  { method: "GET", path: `${key}/%FF`, fast: false }, // 400 InvalidPath
  { method: "GET", path: `${key}/a%zz`, fast: false },
  { method: "GET", path: `${key}/a;b`, fast: false },
  { method: "GET", path: `${key}/a?x=1`, fast: false },
  { method: "GET", path: `${key}/a?`, fast: false },
  { method: "GET", path: `${key}/a/`, fast: false }, // 404, empty segment
  { method: "GET", path: `${key}/a/ttl`, fast: false }, // 405
  { method: "GET", path: `/stores//keys/a`, fast: false },
  { method: "GET", path: `${key}/a`, headers: [["Origin", "https://elsewhere.example"]], fast: true }, // CORS off
  { method: "GET", path: `${key}/a`, headers: [["Content-Type", "application/json"]], body: "{}", fast: false },
  { method: "HEAD", path: `${key}/a`, fast: false },
  { method: "POST", path: `${key}/a`, ...json("1"), fast: false }, // 405
  { method: "OPTIONS", path: `${key}/a`, fast: false }, // 405
  { method: "DELETE", path: `${key}/b`, headers: [["If-Match", "\"99\""]], fast: true }, // 412
  { method: "DELETE", path: `${key}/b`, headers: [["If-Match", "99"]], fast: false }, // 400
  { method: "DELETE", path: `${key}/b`, headers: [["If-None-Match", "*"]], fast: false },
  { method: "DELETE", path: `${key}/b?ttl=3`, fast: false },
  { method: "DELETE", path: `${key}/a`, headers: [["If-Match", "\"2\""]], fast: true }, // 204
  { method: "DELETE", path: `${key}/a`, fast: true }, // 404
  { method: "GET", path: `${key}/a`, fast: true }, // 404
  { method: "GET", path: "/stores/s/keys", fast: false },
  { method: "GET", path: "/health", fast: false }
]

describe("the HTTP fast path", () => {
  it.scopedLive("answers the corpus byte for byte as the declared path, and logs the same lines", () =>
    Effect.gen(function*() {
      const servers = yield* pair({ maxBodyBytes: 4096 })
      for (const shot of corpus) yield* compare(servers, shot)
      const [fast, declared] = yield* logsOf(servers)
      expect(fast).toEqual(declared)
      expect(fast.filter((line) => line.startsWith("WARN request refused")).length).toBeGreaterThan(20)
    }))

  it.scopedLive("with a token: takes only requests that carry it; the rest get the declared 401", () =>
    Effect.gen(function*() {
      const servers = yield* pair({ token: "s3cret" })
      const shots: ReadonlyArray<Shot> = [
        { method: "PUT", path: `${key}/a`, ...json("1"), fast: false }, // 401
        { method: "PUT", path: `${key}/a`, ...json("1", [["Authorization", "Bearer s3cret"]]), fast: true },
        { method: "GET", path: `${key}/a`, headers: [["Authorization", "Bearer s3cret"]], fast: true },
        { method: "GET", path: `${key}/a`, headers: [["Authorization", "Bearer wrong"]], fast: false }, // 401
        { method: "GET", path: `${key}/a`, headers: [["Authorization", "bearer s3cret"]], fast: false },
        { method: "GET", path: `${key}/a`, headers: [["Authorization", "Bearer s3cret2"]], fast: false },
        { method: "GET", path: `${key}/a`, fast: false }, // 401
        { method: "DELETE", path: `${key}/a`, headers: [["Authorization", "Bearer s3cret"]], fast: true },
        { method: "DELETE", path: `${key}/a`, fast: false }
      ]
      for (const shot of shots) yield* compare(servers, shot)
      const [fast, declared] = yield* logsOf(servers)
      expect(fast).toEqual(declared)
    }))

  it.scopedLive("at debug level: a line for every request, and one for a client that leaves before its answer", () =>
    Effect.gen(function*() {
      const servers = yield* pair({}, undefined, { debug: true })
      for (const shot of corpus.slice(0, 8)) yield* compare(servers, shot)
      for (const server of [servers.fast, servers.declared]) yield* leaveMidBody(server)
      const [fast, declared] = yield* logsOf(servers)
      expect(fast).toEqual(declared)
      expect(fast).toContain("DEBUG request method=GET path=/stores/s/keys/a status=304")
      expect(fast).toContain("DEBUG client went away method=PUT path=/stores/s/keys/gone status=499")
    }))

  for (const origins of [["*"], ["https://app.example"], ["https://app.example", "https://admin.example"]]) {
    it.scopedLive(`with CORS for ${origins.join(", ")}: the same headers, or the request is handed over`, () =>
      Effect.gen(function*() {
        const servers = yield* pair({ corsOrigins: origins })
        const from = (origin: string) => [["Origin", origin]] as const
        const shots: ReadonlyArray<Shot> = [
          { method: "PUT", path: `${key}/a`, ...json("1"), fast: true },
          { method: "PUT", path: `${key}/a`, ...json("2", from(origins[0]!)), fast: true },
          { method: "GET", path: `${key}/a`, fast: true },
          { method: "GET", path: `${key}/a`, headers: from(origins.at(-1)!), fast: true },
          { method: "GET", path: `${key}/nope`, headers: from(origins.at(-1)!), fast: true },
          { method: "GET", path: `${key}/a`, headers: from("https://evil.example"), fast: origins[0] === "*" },
          { method: "OPTIONS", path: `${key}/a`, headers: [...from(origins[0]!), ["Access-Control-Request-Method", "PUT"]], fast: false },
          { method: "DELETE", path: `${key}/a`, headers: from(origins[0]!), fast: true }
        ]
        for (const shot of shots) yield* compare(servers, shot)
      }))
  }

  it.scopedLive("a full disk (507), a failed fsync (503), Retry-After on both, and reads going on", () =>
    Effect.gen(function*() {
      const disks = [diskFull(), diskFull()]
      const servers = yield* onDisks(disks)
      yield* compare(servers, { method: "PUT", path: `${key}/a`, ...json("1"), fast: true })
      for (const disk of disks) disk.setSpace(0)
      yield* compare(servers, { method: "PUT", path: `${key}/b`, ...json("2"), fast: true }) // 507
      // The file a refusal names is the log or the probe of the store's recovery, by when that ran.
      const anyFile = (answer: string) =>
        answer.replace(/content-length: \d+/, "content-length: <n>").replace(/stores\/s\/\w+/, "stores/s/<file>")
      yield* compare(servers, { method: "DELETE", path: `${key}/a`, fast: true }, anyFile) // 507
      yield* compare(servers, { method: "GET", path: `${key}/a`, fast: true }) // 200
      for (const disk of disks) disk.setSpace(Number.POSITIVE_INFINITY)
      // The store takes writes again by itself once the disk does: wait for both to.
      for (const server of [servers.fast, servers.declared]) {
        while (!(yield* exchange(server.port, { method: "PUT", path: `${key}/probe`, ...json("0") })).startsWith("HTTP/1.1 200")) {
          yield* Effect.sleep("20 millis")
        }
      }
      for (const disk of disks) disk.failNextSync()
      yield* compare(servers, { method: "PUT", path: `${key}/c`, ...json("3"), fast: true }) // 503 StorageError
    }))

  it.scopedLive("a write whose answer comes too late: 504 OutcomeUnknown", () =>
    Effect.gen(function*() {
      const disks = [slowDisk(0), slowDisk(0)]
      const servers = yield* onDisks(disks, { callTimeout: "200 millis" })
      yield* compare(servers, { method: "PUT", path: `${key}/a`, ...json("1"), fast: true })
      for (const disk of disks) disk.setSyncDelay(1000)
      const answer = yield* compare(servers, { method: "PUT", path: `${key}/a`, ...json("2"), fast: true })
      expect(answer).toMatch(/^HTTP\/1.1 504/)
    }))

  it.scopedLive("a write in flight when the server begins to drain is answered with Connection: close", () =>
    Effect.gen(function*() {
      const disks = [diskFull(), diskFull()]
      const servers = yield* onDisks(disks)
      const answers: Array<string> = []
      for (const [i, server] of [servers.fast, servers.declared].entries()) {
        yield* exchange(server.port, { method: "PUT", path: `${key}/a`, ...json("1") })
        const held = disks[i]!.holdSync(1)
        const before = yield* answered
        const write = yield* Effect.fork(exchange(server.port, { method: "PUT", path: `${key}/a`, ...json("2") }))
        yield* held.entered
        const closing = yield* Effect.fork(server.close)
        // The server drains once it stops listening: then a new connection is refused.
        while (yield* Effect.promise(() => connects(server.port))) yield* Effect.sleep("10 millis")
        yield* held.release
        answers.push(yield* write.await.pipe(Effect.flatMap((exit) => exit)))
        yield* closing.await
        expect((yield* answered) - before).toBe(i === 0 ? 1 : 0)
      }
      expect(answers[0]).toBe(answers[1])
      expect(answers[0]).toMatch(/^HTTP\/1.1 200 OK\r\n[^]*\r\nConnection: close\r\n/i)
    }))

  it.scopedLive("under a tracer that records, every request goes the declared way, traced as declared", () =>
    Effect.gen(function*() {
      const memory = MemoryTracer.make()
      const traced = yield* Layer.build(
        Server.layer({ port: 0 }).pipe(Layer.provide(KV.layerMemory()), Layer.provide(MemoryTracer.layer(memory)))
      )
      const address = Context.get(traced, HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      const before = yield* answered
      expect(yield* exchange(address.port, { method: "PUT", path: `${key}/a`, ...json("1") })).toMatch(/^HTTP\/1.1 200/)
      expect(yield* exchange(address.port, { method: "GET", path: `${key}/a` })).toMatch(/^HTTP\/1.1 200/)
      expect((yield* answered) - before).toBe(0)
      const get = MemoryTracer.find(memory, "kv.getEntry")
      expect(MemoryTracer.path(get).slice(0, 2)).toEqual(["kv.getEntry", "http.server GET"])
    }))

  it.scopedLive("answers generated requests as the declared path does", () =>
    Effect.gen(function*() {
      const servers = yield* pair({ maxBodyBytes: 4096, token: "t" })
      const segmentChars = fc.constantFrom(..."abcXYZ019-._~!$&'()*+,=:@;% /?#\u00e9\u{1F5DD}")
      const text = (max: number) => fc.array(segmentChars, { minLength: 0, maxLength: max }).map((chars) => chars.join(""))
      const segment = fc.oneof(
        text(8).map(encodeURIComponent),
        text(8).map((raw) => raw.replace(/[ /?#\u0080-\u{10FFFF}]/gu, "")),
        fc.constantFrom("a", "b", "%FF", "%2", "%2F", "%25", "%c3%a9", "k".repeat(1100))
      )
      const tag = fc.oneof(
        fc.nat({ max: 40 }).map((n) => `"${n}"`),
        fc.constantFrom("*", "W/\"1\"", " \"1\"", "\"1\", \"2\"", "1", "", "\"01\"")
      )
      const sometimes = <A>(arbitrary: fc.Arbitrary<A>) =>
        fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary, weight: 1 })
      const shot = fc.record({
        method: fc.constantFrom("GET", "GET", "GET", "PUT", "PUT", "PUT", "DELETE", "POST", "HEAD"),
        store: fc.oneof({ arbitrary: fc.constantFrom("s", "t"), weight: 3 }, { arbitrary: segment, weight: 1 }),
        key: fc.oneof({ arbitrary: fc.constantFrom("a", "b"), weight: 1 }, { arbitrary: segment, weight: 2 }),
        query: fc.constantFrom("", "", "", "", "", "", "?ttl=10", "?ttl=0.25", "?ttl=0", "?ttl=", "?a=1", "?ttl=5&ttl=5"),
        ifMatch: sometimes(tag),
        ifNoneMatch: sometimes(tag),
        contentType: sometimes(
          fc.constantFrom("application/json", "text/plain", "text/plain; charset=iso-8859-1", "application/problem+json", "image/png")
        ),
        authorization: fc.constantFrom("Bearer t", "Bearer t", "Bearer t", "Bearer t", "Bearer t", "Bearer x", undefined),
        origin: fc.constantFrom(undefined, undefined, "https://a.example"),
        body: fc.oneof(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 30 }), fc.constantFrom("1e999", "-0", "", "[1,", "\"\\ud800\"")),
        // Mostly a body on a PUT only, as clients send them.
        bodyAnyway: fc.nat({ max: 9 })
      }).map((generated): Shot => {
        const headers: Array<readonly [string, string]> = []
        if (generated.ifMatch !== undefined) headers.push(["If-Match", generated.ifMatch])
        if (generated.ifNoneMatch !== undefined) headers.push(["If-None-Match", generated.ifNoneMatch])
        if (generated.contentType !== undefined) headers.push(["Content-Type", generated.contentType])
        if (generated.authorization !== undefined) headers.push(["Authorization", generated.authorization])
        if (generated.origin !== undefined) headers.push(["Origin", generated.origin])
        return {
          method: generated.method,
          path: `/stores/${generated.store}/keys/${generated.key}${generated.query}`,
          headers,
          ...((generated.method === "PUT") === (generated.bodyAnyway > 0) ? { body: generated.body } : {})
        }
      })
      const before = yield* answered
      yield* Effect.promise(() =>
        fc.assert(fc.asyncProperty(shot, (generated) => Effect.runPromise(Effect.asVoid(compare(servers, generated)))), {
          numRuns: 300,
          seed: Number(process.env.FAST_PATH_SEED ?? Date.now() % 2 ** 31)
        })
      )
      expect((yield* answered) - before).toBeGreaterThan(30)
      const [fast, declared] = yield* logsOf(servers)
      expect(fast).toEqual(declared)
    }), 120_000)
})

/**
 * A PUT whose client sends part of its body, then closes the connection (its FIN follows the bytes
 * sent, so the server reads them first); done once the server has logged that its client left.
 */
const leaveMidBody = (server: Running) =>
  Effect.gen(function*() {
    yield* Effect.async<void>((resume) => {
      const socket = Net.connect(server.port, "127.0.0.1", () =>
        socket.write("PUT /stores/s/keys/gone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n[1,", () => {
          socket.destroy()
          resume(Effect.void)
        }))
    })
    while (!server.logs.some((line) => line.includes("status=499"))) yield* Effect.sleep("10 millis")
  })

/** Whether a connection to `port` is accepted. */
const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect(port, "127.0.0.1", () => {
      socket.destroy()
      resolve(true)
    })
    socket.on("error", () => resolve(false))
  })
