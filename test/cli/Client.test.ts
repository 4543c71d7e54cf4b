import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cli from "./cli.js"

const oneLine = (text: string) => expect(text.trimEnd().split("\n")).toHaveLength(1)

describe("effect-kv client commands", () => {
  it.scopedLive("put, get, keys, stores and del against a real server", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const run = (...args: ReadonlyArray<string>) => Cli.run([...args, "--url", server.url])

      const put = yield* run("put", "users", "ada", "{\"name\":\"Ada\",\"born\":1815}")
      expect(put).toMatchObject({ code: 0, stderr: "" })
      expect(JSON.parse(put.stdout)).toEqual({ version: expect.any(Number) })

      const get = yield* run("get", "users", "ada")
      expect(get).toMatchObject({ code: 0, stderr: "" })
      expect(JSON.parse(get.stdout)).toEqual({ name: "Ada", born: 1815 })

      const fromStdin = yield* Cli.run(["put", "users", "alan", "-", "--url", server.url], { input: "[1, \"two\", null]\n" })
      expect(fromStdin.code).toBe(0)
      expect(JSON.parse((yield* run("get", "users", "alan")).stdout)).toEqual([1, "two", null])

      // A key with characters a URL must escape.
      expect((yield* run("put", "users", "grace hopper/1906?x=1#y", "\"✓\"")).code).toBe(0)
      expect((yield* run("get", "users", "grace hopper/1906?x=1#y")).stdout).toBe("\"✓\"\n")

      expect((yield* run("keys", "users")).stdout).toBe("ada\nalan\ngrace hopper/1906?x=1#y\n")
      expect((yield* run("keys", "users", "--prefix", "al")).stdout).toBe("alan\n")
      expect((yield* run("keys", "users", "--limit", "2")).stdout).toBe("ada\nalan\n")
      expect((yield* run("put", "logs", "1", "true")).code).toBe(0)
      expect((yield* run("stores")).stdout).toBe("logs\nusers\n")

      const del = yield* run("del", "users", "ada")
      expect(del).toMatchObject({ code: 0, stdout: "", stderr: "" })
      const gone = yield* run("get", "users", "ada")
      expect(gone.code).toBe(1)
      expect(gone.stdout).toBe("")
      expect(gone.stderr).toBe("error: key \"ada\" is not in store \"users\"; list its keys with: effect-kv keys users (NotFound)\n")
      expect((yield* run("del", "users", "ada")).code).toBe(1)
    }))

  it.scopedLive("put --ttl, expire and persist set and remove a key's expiry", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const run = (...args: ReadonlyArray<string>) => Cli.run([...args, "--url", server.url])
      const expiresAt = (key: string) =>
        Effect.map(Effect.promise(() => fetch(`${server.url}/stores/s/keys/${key}`)), (response) => response.headers.get("kv-expires-at"))

      const before = Date.now()
      const put = yield* run("put", "s", "k", "\"v\"", "--ttl", "30")
      expect(put).toMatchObject({ code: 0, stderr: "" })
      expect(Number(yield* expiresAt("k"))).toBeGreaterThanOrEqual(before + 30_000)

      const expire = yield* run("expire", "s", "k", "3600.5")
      expect(expire).toMatchObject({ code: 0, stderr: "" })
      const { version } = JSON.parse(expire.stdout) as { version: number }
      expect(version).toBeGreaterThan((JSON.parse(put.stdout) as { version: number }).version)
      expect(Number(yield* expiresAt("k"))).toBeGreaterThanOrEqual(before + 3_600_500)

      const persist = yield* run("persist", "s", "k")
      expect(persist).toMatchObject({ code: 0, stderr: "" })
      expect((JSON.parse(persist.stdout) as { version: number }).version).toBeGreaterThan(version)
      expect(yield* expiresAt("k")).toBeNull()
      expect((yield* run("get", "s", "k")).stdout).toBe("\"v\"\n")

      const absent = yield* run("expire", "s", "nobody", "10")
      expect(absent.code).toBe(1)
      expect(absent.stderr).toBe("error: key \"nobody\" is not in store \"s\"; list its keys with: effect-kv keys s (NotFound)\n")
      expect((yield* run("persist", "s", "nobody")).code).toBe(1)
    }))

  it.scopedLive("atomic applies a write from stdin or --file; a refusal names every failed check", () =>
    Effect.gen(function*() {
      const dir = yield* Cli.tempDir
      const server = yield* Cli.serve(dir)
      const run = (args: ReadonlyArray<string>, input?: string) =>
        Cli.run([...args, "--url", server.url], input === undefined ? {} : { input })

      const first = yield* run(["atomic", "s"], JSON.stringify({
        checks: [{ key: "a", version: null }],
        ops: [{ op: "put", key: "a", value: { n: 1 }, ttl: 60 }, { op: "increment", key: "count" }]
      }))
      expect(first).toMatchObject({ code: 0, stderr: "" })
      const { version } = JSON.parse(first.stdout) as { version: number }
      expect((yield* run(["get", "s", "count"])).stdout).toBe("1\n")

      const file = `${dir}/write.json`
      yield* Effect.promise(() =>
        import("node:fs/promises").then((fs) =>
          fs.writeFile(file, JSON.stringify({ checks: [{ key: "a", version }], ops: [{ op: "delete", key: "a" }, { op: "increment", key: "count", by: 10 }] }))
        )
      )
      const second = yield* run(["atomic", "s", "--file", file])
      expect(second).toMatchObject({ code: 0, stderr: "" })
      expect((yield* run(["get", "s", "count"])).stdout).toBe("11\n")

      const refused = yield* run(["atomic", "s"], JSON.stringify({
        checks: [{ key: "a", version }, { key: "count", version: null }],
        ops: [{ op: "put", key: "x", value: 1 }]
      }))
      expect(refused.code).toBe(1)
      expect(refused.stderr).toBe(
        `error: the atomic write to store "s" was not applied: key "a" is absent, not at version ${version}; ` +
          `key "count" is at version ${version + 1}, not absent; read the keys again and retry (AtomicCheckFailed)\n`
      )
      const notNumber = yield* run(["atomic", "s"], JSON.stringify({ ops: [{ op: "put", key: "t", value: "x" }, { op: "increment", key: "t" }] }))
      expect(notNumber.code).toBe(1)
      expect(notNumber.stderr).toMatch(/^error: cannot increment key "t" in store "s": .*\(NotANumber\)\n$/)

      const badJson = yield* run(["atomic", "s"], "{\"ops\": [{\"op\": \"put\", \"key\": \"k\"}]}")
      expect(badJson.code).toBe(1)
      expect(badJson.stderr).toBe("error: stdin is not valid JSON: ops.0.value: is missing\n")
      expect((yield* run(["get", "s", "x"])).code).toBe(1)
    }))

  it.scopedLive("the server's refusals are one line with its message", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const badName = yield* Cli.run(["put", "no/slashes", "k", "1", "--url", server.url])
      expect(badName.code).toBe(1)
      expect(badName.stderr).toMatch(/^error: invalid store name .*\(InvalidName\)$/m)
      oneLine(badName.stderr)
    }))

  it.scopedLive("restart answers for a running store and changes nothing", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const run = (...args: ReadonlyArray<string>) => Cli.run([...args, "--url", server.url])
      expect((yield* run("put", "s", "k", "1")).code).toBe(0)
      expect(yield* run("restart", "s")).toMatchObject({ code: 0, stdout: "store s is running\n", stderr: "" })
      expect((yield* run("get", "s", "k")).stdout).toBe("1\n")
      const bad = yield* run("restart", "no/slash")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/^error: invalid store name .*\(InvalidName\)\n$/)
    }))

  it.scopedLive("keys follows the server's pages past its 1,000-key limit", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir)
      const keys = Array.from({ length: 1005 }, (_, i) => `k${String(i).padStart(4, "0")}`)
      yield* Effect.forEach(keys, (key) =>
        Cli.request(`${server.url}/stores/many/keys/${key}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: "0"
        }), { concurrency: 32 })
      expect((yield* Cli.run(["keys", "many", "--url", server.url])).stdout).toBe(keys.map((key) => `${key}\n`).join(""))
      expect((yield* Cli.run(["keys", "many", "--limit", "1002", "--url", server.url])).stdout.split("\n"))
        .toHaveLength(1003)
    }))

  it.scopedLive("a server with a token refuses a client without it; --token and KV_TOKEN carry it", () =>
    Effect.gen(function*() {
      const server = yield* Cli.serve(yield* Cli.tempDir, [], { env: { KV_TOKEN: "s3cret" } })
      const without = yield* Cli.run(["stores", "--url", server.url])
      expect(without.code).toBe(1)
      expect(without.stderr).toBe("error: the server needs a token: pass --token <token> or set KV_TOKEN (Unauthorized)\n")
      expect((yield* Cli.run(["stores", "--url", server.url, "--token", "wrong"])).code).toBe(1)
      expect((yield* Cli.run(["put", "s", "k", "1", "--url", server.url, "--token", "s3cret"])).code).toBe(0)
      const fromEnv = yield* Cli.run(["get", "s", "k"], { env: { KV_URL: server.url, KV_TOKEN: "s3cret" } })
      expect(fromEnv).toMatchObject({ code: 0, stdout: "1\n" })
    }))
})
