/**
 * The anchors from outside Node that benchmarks measure beside effect-kv, each in a child process
 * (timing its own loop) and only when its program is on the PATH; `undefined` and a line saying
 * so when it is not.
 *
 * - Elixir's GenServer `get` (`anchors/genserver_get.exs`, one scheduler);
 * - Redis `SET` with `appendonly yes`, `appendfsync always`, measured by `redis-benchmark`.
 */
import { execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const onPath = (program: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const run = (program: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(program, args, { maxBuffer: 1 << 20 }, (error, stdout) => (error ? reject(error) : resolve(stdout)))
  )

// The .exs sits in the source tree; the benchmarks run from dist/bench.
const exs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/anchors/genserver_get.exs")

/** Gets per second of an Elixir GenServer over 100k keys for `millis` ms, or `undefined` without `elixir`. */
export const elixirGets = (): ((millis: number) => Promise<number>) | undefined => {
  if (!onPath("elixir")) {
    console.log("  (elixir is not on the PATH: no Elixir GenServer figure; `apt-get install elixir` adds it)")
    return undefined
  }
  return async (millis) => Number((await run("elixir", ["--erl", "+S 1", exs, String(millis)])).trim())
}

/** A Redis server with `appendfsync always` on a Unix socket in a temporary folder. */
export interface Redis {
  /** `SET` requests per second from `clients` connections, 100-byte values over 10,000 keys. */
  readonly sets: (clients: number, requests: number) => Promise<number>
  readonly stop: () => void
}

/** Starts Redis with `appendfsync always`, or `undefined` without `redis-server` and `redis-benchmark`. */
export const redisAlways = async (): Promise<Redis | undefined> => {
  if (!onPath("redis-server") || !onPath("redis-benchmark")) {
    console.log("  (redis-server or redis-benchmark is not on the PATH: no Redis figure; `apt-get install redis` adds them)")
    return undefined
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-redis-"))
  const socket = path.join(dir, "redis.sock")
  const server = spawn("redis-server", [
    "--port", "0", "--unixsocket", socket, "--dir", dir, "--save", "",
    "--appendonly", "yes", "--appendfsync", "always"
  ], { stdio: "ignore" })
  for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  return {
    sets: async (clients, requests) => {
      // CSV: a header line, then "SET","<requests per second>",...
      const csv = await run("redis-benchmark", [
        "-s", socket, "-c", String(clients), "-n", String(requests), "-t", "set", "-d", "100", "-r", "10000", "--csv"
      ])
      const line = csv.split("\n").find((row) => row.startsWith("\"SET"))
      return Number(line?.split(",")[1]?.replaceAll("\"", ""))
    },
    stop: () => {
      server.kill()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
