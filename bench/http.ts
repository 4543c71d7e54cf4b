/**
 * HTTP requests per second at 50 connections (autocannon, in a worker thread so the server keeps
 * the main one), each beside a bare `node:http` server holding a `Map`, measured in the same run:
 * GET of a key, PUT in memory, and PUT on disk with `sync: "always"` (acknowledged after fsync).
 * A first line measures `@effect/platform`'s router with one route and no work behind it: the
 * ceiling that any server on the framework has on this machine. A last line watches the heap of
 * this process, which holds our server, across a 60 s load (`KV_BENCH_SOAK_SECONDS` changes it).
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Server from "../src/http/Server.js"
import { KV } from "../src/kv/KV.js"
import { heading, report } from "./report.js"
import { compare } from "./rounds.js"

interface Result {
  readonly requests: { readonly average: number }
  readonly non2xx: number
  readonly errors: number
}

type Autocannon = (options: {
  readonly url: string
  readonly connections: number
  readonly duration: number
  readonly workers?: number
  readonly method?: string
  readonly body?: string
  readonly headers?: Record<string, string>
}) => Promise<Result>

// autocannon ships no types; this is the part used here.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon

const connections = 50
const seconds = 5
const path = "/stores/bench/keys/some-key"
const body = JSON.stringify({ name: "Ada Lovelace", born: 1815, tags: ["math", "engines"] })

/** Requests per second of `method` on `url`; fails the run on any error or non-2xx answer. */
const load = async (url: string, method: "GET" | "PUT", duration = seconds) => {
  const result = await autocannon({
    url: url + path,
    connections,
    duration,
    workers: 1,
    method,
    ...(method === "PUT" ? { body, headers: { "content-type": "application/json" } } : {})
  })
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${method} ${url}: ${result.errors} errors, ${result.non2xx} non-2xx responses`)
  }
  return result.requests.average
}

/** The baseline: `node:http` and a `Map`, doing what our route does with no framework. */
const bareServer = async () => {
  const map = new Map<string, { value: unknown; version: number }>()
  let version = 0
  const server = Http.createServer((request, response) => {
    const key = decodeURIComponent(request.url!.slice("/stores/bench/keys/".length))
    if (request.method === "GET") {
      const entry = map.get(key)
      if (entry === undefined) return void response.writeHead(404).end()
      response.writeHead(200, { "content-type": "application/json", etag: `"${entry.version}"` })
      return void response.end(JSON.stringify(entry.value))
    }
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      map.set(key, { value: JSON.parse(Buffer.concat(chunks).toString("utf8")), version: ++version })
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version }))
    })
  })
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((closed) => server.close(() => closed()))
  }
}

interface Running {
  readonly url: string
  readonly close: () => Promise<void>
}

/** A platform `HttpServer` layer, started on a free port until `close`. */
const startLayer = async (layer: Layer.Layer<HttpServer.HttpServer, unknown>): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return { url: `http://127.0.0.1:${address.port}`, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** Our server on `kv`. */
const ourServer = (kv: Layer.Layer<KV, unknown>, options: Server.ServerOptions = {}) => () =>
  startLayer(Server.layer({ port: 0, ...options }).pipe(Layer.provide(kv)))

/** The framework's floor: `@effect/platform`'s router on Node with one route and nothing behind it. */
const platformServer = () => {
  const ok = HttpServerResponse.unsafeJson({ name: "Ada Lovelace" })
  const router = HttpRouter.empty.pipe(HttpRouter.get("/stores/bench/keys/:key", Effect.succeed(ok)), HttpRouter.put("/stores/bench/keys/:key", Effect.succeed(ok)))
  return startLayer(
    HttpServer.serve(router).pipe(Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" })))
  )
}

const measure = async (label: string, method: "GET" | "PUT", start: () => Promise<Running>) => {
  const bare = await bareServer()
  const measured = await start()
  try {
    for (const url of [bare.url, measured.url]) {
      await fetch(url + path, { method: "PUT", body, headers: { "content-type": "application/json" } })
    }
    const baseline = await load(bare.url, method)
    const value = await load(measured.url, method)
    report(label, value, "req/s", { label: "node:http + Map", value: baseline })
  } finally {
    await measured.close()
    await bare.close()
  }
}

/**
 * What serving the web console costs the hot route: GET of a key on a server with the console
 * (its routes on the same router) beside one without, in interleaved rounds of 3 s.
 */
export const consoleCost = async () => {
  const start = async (console: boolean) => {
    const server = await ourServer(KV.layerMemory(), { console })()
    await fetch(server.url + path, { method: "PUT", body, headers: { "content-type": "application/json" } })
    return server
  }
  const [withConsole, without] = [await start(true), await start(false)]
  try {
    await compare(
      "GET of a key, with the console at /ui",
      { label: "with", run: () => load(withConsole.url, "GET", 3) },
      { label: "without the console", run: () => load(without.url, "GET", 3) },
      { unit: "req/s" }
    )
  } finally {
    await withConsole.close()
    await without.close()
  }
}

/** The heap after a full GC (exact with `node --expose-gc`, as `npm run bench` runs). */
const heapUsed = () => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed
}

/** Our server's heap after a warm-up, and again after a long load of PUTs and GETs. */
const soak = async () => {
  const soakSeconds = Number(process.env.KV_BENCH_SOAK_SECONDS ?? 60)
  const server = await ourServer(KV.layerMemory())()
  try {
    await load(server.url, "PUT", 5)
    const before = heapUsed()
    await Promise.all([load(server.url, "PUT", soakSeconds), load(server.url, "GET", soakSeconds)])
    const after = heapUsed()
    report(`heap after ${soakSeconds} s of PUT and GET load`, after / 2 ** 20, "MiB", {
      label: "after a 5 s warm-up",
      value: before / 2 ** 20
    })
  } finally {
    await server.close()
  }
}

export const run = async () => {
  heading(`HTTP, ${connections} connections, ${seconds} s each (autocannon)`)
  await measure("GET, @effect/platform router alone (the floor)", "GET", platformServer)
  await measure("GET /stores/{store}/keys/{key}", "GET", ourServer(KV.layerMemory()))
  await consoleCost()
  await measure("PUT, memory", "PUT", ourServer(KV.layerMemory()))
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-kv-bench-http-"))
  try {
    await measure("PUT, disk, sync \"always\"", "PUT", ourServer(KV.layer({ dataDir, sync: "always" })))
  } finally {
    Fs.rmSync(dataDir, { recursive: true, force: true })
  }
  await soak()
}
