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
