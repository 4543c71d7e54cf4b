import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { KV } from "../../src/kv/KV.js"
import { rawRequest, serve } from "./server.js"

/** A parent folder holding the data folder, so that anything written beside it shows. */
const tempParent = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-kv-http-"))),
  (parent) => Effect.sync(() => Fs.rmSync(parent, { recursive: true, force: true }))
)

const filesUnder = (folder: string): Array<string> =>
  Fs.readdirSync(folder, { recursive: true, encoding: "utf8" }).map((file) => Path.join(folder, file))

const json = { "content-type": "application/json" }

interface Case {
  readonly name: string
  readonly method: string
  readonly path: string
  readonly body?: string | Buffer
  readonly headers?: Record<string, string>
  readonly status: number
  readonly error?: string
}

const hostile: ReadonlyArray<Case> = [
  { name: "..", method: "PUT", path: "/stores/../keys/k", body: "1", status: 400, error: "InvalidName" },
  { name: ".. to read", method: "GET", path: "/stores/../keys/k", status: 400, error: "InvalidName" },
  { name: "%2e%2e", method: "PUT", path: "/stores/%2e%2e/keys/k", body: "1", status: 400, error: "InvalidName" },
  { name: "%2e%2e%2f", method: "PUT", path: "/stores/%2e%2e%2f/keys/k", body: "1", status: 400, error: "InvalidName" },
  {
    name: "..%2f..%2f out of the folder",
    method: "PUT",
    path: "/stores/..%2f..%2fescaped/keys/k",
    body: "1",
    status: 400,
    error: "InvalidName"
  },
  { name: "%2f in a name", method: "PUT", path: "/stores/a%2fb/keys/k", body: "1", status: 400, error: "InvalidName" },
  { name: "NUL in a name", method: "PUT", path: "/stores/a%00b/keys/k", body: "1", status: 400, error: "InvalidName" },
  { name: "a lone NUL", method: "DELETE", path: "/stores/%00", status: 400, error: "InvalidName" },
  {
    name: "a 10 KB name",
    method: "PUT",
    path: `/stores/${"n".repeat(10_000)}/keys/k`,
    body: "1",
    status: 400,
    error: "InvalidName"
  },
  {
    name: "a 10 KB key",
    method: "PUT",
    path: `/stores/s/keys/${"k".repeat(10_000)}`,
    body: "1",
    status: 400,
    error: "InvalidKey"
  },
  { name: "%ff in a name", method: "GET", path: "/stores/%ff/keys/k", status: 400, error: "InvalidPath" },
  { name: "%ff in a key", method: "PUT", path: "/stores/s/keys/%ff", body: "1", status: 400, error: "InvalidPath" },
  {
    name: "overlong UTF-8 for ../",
    method: "PUT",
    path: "/stores/%c0%ae%c0%ae%c0%af/keys/k",
    body: "1",
    status: 400,
    error: "InvalidPath"
  },
  { name: "a lone surrogate", method: "GET", path: "/stores/s/keys/%ed%a0%80", status: 400, error: "InvalidPath" },
  { name: "invalid JSON", method: "PUT", path: "/stores/s/keys/k", body: "{\"a\": tru", status: 400, error: "InvalidJson" },
  {
    name: "a body that is not UTF-8",
    method: "PUT",
    path: "/stores/s/keys/k",
    body: Buffer.from([0x22, 0xff, 0xfe, 0x22]),
    status: 400,
    error: "InvalidJson"
  },
  {
    name: "a 5 MiB body",
    method: "PUT",
    path: "/stores/s/keys/k",
    body: JSON.stringify("x".repeat(5 * 1024 * 1024)),
    status: 413,
    error: "PayloadTooLarge"
  },
  {
    name: "a wrong content type",
    method: "PUT",
    path: "/stores/s/keys/k",
    body: "1",
    headers: { "content-type": "application/xml" },
    status: 415,
    error: "UnsupportedMediaType"
  },
  { name: "a number past a double", method: "PUT", path: "/stores/s/keys/k", body: "[1e400]", status: 400, error: "InvalidValue" },
  { name: "a number under a double", method: "PUT", path: "/stores/s/keys/k", body: "1e-400", status: 400, error: "InvalidValue" },
  {
    name: "a form post",
    method: "POST",
    path: "/stores/s/keys/k",
    body: "a=1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 405,
    error: "MethodNotAllowed"
  }
]

// Keys are data in a log, never file names: these are stored as they are.
const keysAsData: ReadonlyArray<readonly [path: string, key: string]> = [
  ["..", ".."],
  ["%2e%2e", ".."],
  ["..%2f..%2fescaped", "../../escaped"],
  ["a%00b", "a\u0000b"]
]

describe("hostile input", () => {
  it.scopedLive("each gets its 4xx with a JSON error, and nothing is written outside the data folder", () =>
    Effect.gen(function*() {
      const parent = yield* tempParent
      const dataDir = Path.join(parent, "data")
      const base = yield* serve({}, KV.layer({ dataDir, sync: "always" }))
      for (const hostileCase of hostile) {
        const reply = yield* rawRequest(base, hostileCase.method, hostileCase.path, {
          headers: hostileCase.headers ?? json,
          ...(hostileCase.body === undefined ? {} : { body: hostileCase.body })
        })
        expect({ case: hostileCase.name, status: reply.status, error: (reply.json as { error?: string })?.error })
          .toEqual({ case: hostileCase.name, status: hostileCase.status, error: hostileCase.error })
      }
      for (const [path, key] of keysAsData) {
        const put = yield* rawRequest(base, "PUT", `/stores/s/keys/${path}`, { headers: json, body: JSON.stringify(key) })
        expect({ path, status: put.status }).toEqual({ path, status: 200 })
        const get = yield* rawRequest(base, "GET", `/stores/s/keys/${path}`)
        expect({ path, value: get.json }).toEqual({ path, value: key })
      }
      const outside = filesUnder(parent).filter((file) => file !== dataDir && !file.startsWith(dataDir + Path.sep))
      expect(outside).toEqual([])
      expect(Fs.readdirSync(dataDir).length).toBeGreaterThan(0)
    }))
})

// What Node's HTTP parser refuses before any handler runs, as raw bytes on a socket.
const malformed: ReadonlyArray<readonly [name: string, bytes: Buffer, status: number, error: string, sentence: RegExp]> = [
  [
    "bad chunked encoding",
    Buffer.from("PUT /stores/s/keys/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    400,
    "InvalidRequest",
    /chunked body is malformed/
  ],
  [
    "Content-Length with Transfer-Encoding",
    Buffer.from("PUT /stores/s/keys/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"),
    400,
    "InvalidRequest",
    /both Content-Length and Transfer-Encoding/
  ],
  [
    "duplicate Content-Length",
    Buffer.from("PUT /stores/s/keys/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12"),
    400,
    "InvalidRequest",
    /more than one Content-Length/
  ],
  [
    "oversized headers",
    Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`),
    431,
    "HeadersTooLarge",
    /over the server's limit of 16 KiB/
  ],
  [
    "raw bytes in the path",
    Buffer.from("GET /stores/s/keys/\xff\x01 HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"),
    400,
    "InvalidRequest",
    /must be percent-encoded/
  ],
  ["not HTTP at all", Buffer.from("HELLO\r\n\r\n"), 400, "InvalidRequest", /not valid HTTP\/1\.1/]
]

/** Writes `bytes` on a fresh connection; the whole answer, once the server closes it. */
const rawExchange = (base: string, bytes: Buffer) =>
  Effect.async<string>((resume) => {
    const { hostname, port } = new URL(base)
    const socket = Net.connect(Number(port), hostname, () => socket.write(bytes))
    let answer = ""
    socket.on("data", (data: Buffer) => answer += data.toString("latin1"))
    socket.on("close", () => resume(Effect.succeed(answer)))
    socket.on("error", () => {})
    return Effect.sync(() => socket.destroy())
  })

describe("requests Node's HTTP parser refuses", () => {
  it.scopedLive.each(malformed)("%s: a JSON error that says what to send", ([, bytes, status, error, sentence]) =>
    Effect.gen(function*() {
      const base = yield* serve()
      const answer = yield* rawExchange(base, bytes)
      const [head, body] = answer.split("\r\n\r\n")
      expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
      expect(head).toMatch(/\r\nContent-Type: application\/json\r\n/i)
      const json = JSON.parse(body!) as { error: string; message: string }
      expect(json.error).toBe(error)
      expect(json.message).toMatch(sentence)
    }))
})
