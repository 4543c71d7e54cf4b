import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, FiberRef, HashMap, HashSet, Layer, Logger, LogLevel } from "effect"
import * as Server from "../../src/http/Server.js"
import { KV } from "../../src/kv/KV.js"
import { request } from "./server.js"

interface Line {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
}

/** A server whose log lines, debug included, go to `lines`. */
const serveLogging = (lines: Array<Line>) =>
  Effect.gen(function*() {
    const collect = Logger.make(({ annotations, logLevel, message }) => {
      lines.push({ level: logLevel.label, message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
    })
    const layer = Server.layer({ port: 0 }).pipe(
      Layer.provide(KV.layerMemory()),
      Layer.locally(FiberRef.currentLoggers, HashSet.make(collect)),
      Layer.locally(FiberRef.currentMinimumLogLevel, LogLevel.Debug)
    )
    const address = Context.get(yield* Layer.build(layer), HttpServer.HttpServer).address
    return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  })

const requestLines = (lines: ReadonlyArray<Line>) => lines.filter((line) => "status" in line.annotations)

describe("request log", () => {
  it.scopedLive("one structured line per request: debug when it went well, warning when refused", () =>
    Effect.gen(function*() {
      const lines: Array<Line> = []
      const base = yield* serveLogging(lines)
      yield* request(base, "GET", "/health")
      yield* request(base, "GET", "/stores/s/keys/absent?x=1")
      yield* request(base, "POST", "/stores", { body: 1 })
      // What a browser asks for first is no warning.
      yield* request(base, "GET", "/favicon.ico")
      expect(requestLines(lines).map(({ annotations, level }) => ({
        level,
        method: annotations["method"],
        path: annotations["path"],
        status: annotations["status"],
        timed: typeof annotations["ms"] === "number"
      }))).toEqual([
        { level: "DEBUG", method: "GET", path: "/health", status: 200, timed: true },
        { level: "WARN", method: "GET", path: "/stores/s/keys/absent", status: 404, timed: true },
        { level: "WARN", method: "POST", path: "/stores", status: 405, timed: true },
        { level: "DEBUG", method: "GET", path: "/favicon.ico", status: 204, timed: true }
      ])
    }))
})
