/**
 * Calls through a `Server` and writes through `KV`, this build beside another build of
 * effect-kv, in interleaved rounds (`./rounds.ts`): the benchmark for a change to the call path.
 *
 * - a server call round trip (a counter's `handleCall`, default timeout), 1 and 100 callers;
 * - `KV.get` in memory, 1 caller, on a running store;
 * - `KV.put` in memory, 100 callers on one store;
 * - `KV.put` with `sync: "always"` in a temporary folder, 100 callers on one store;
 * - `KV.get` in memory, 1 caller, of the keys the puts wrote.
 *
 * The baseline is the build in `--baseline DIR`: a checkout of another commit, built, whose
 * `node_modules` links to this one's so that both share one `effect`:
 *
 * ```sh
 * git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
 * (cd /tmp/base && npx tsc -p tsconfig.build.json)
 * npm run bench calls -- --baseline /tmp/base
 * ```
 *
 * Without `--baseline`, this build is measured against itself: the ratios then show how far the
 * machine's noise alone moves them.
 */
import { Duration, Effect, Exit, ManagedRuntime, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type * as KVModule from "../src/kv/KV.js"
import type * as ServerModule from "../src/otp/Server.js"
import { effectOpsPerSecond, heading } from "./report.js"
import { compare, type Measure } from "./rounds.js"

const millis = 1000

interface Build {
  readonly Server: typeof ServerModule
  readonly KV: typeof KVModule.KV
}

/** The modules of a build: this one's, or those under `dir/dist`. */
const load = async (dir: string | undefined): Promise<Build> => {
  if (dir === undefined) {
    return { Server: await import("../src/otp/Server.js"), KV: (await import("../src/kv/KV.js")).KV }
  }
  const from = (file: string) => pathToFileURL(path.resolve(dir, "dist", file)).href
  const server: typeof ServerModule = await import(from("src/otp/Server.js"))
  const kv: typeof KVModule = await import(from("src/kv/KV.js"))
  return { Server: server, KV: kv.KV }
}

/** The figures of one build, each a `run` for the harness; `close` releases what they hold. */
const sideOf = async (build: Build, label: string) => {
  const scope = Effect.runSync(Scope.make())
  const counter = await Effect.runPromise(
    build.Server.start<number, number, number>({
      init: Effect.succeed(0),
      handleCall: (n, state) => Effect.succeed([state + n, state + n] as const)
    }, { name: "counter" }).pipe(Scope.extend(scope))
  )
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-kv-bench-"))
  const memory = ManagedRuntime.make(build.KV.layerMemory({ callTimeout: Duration.seconds(30) }))
  const disk = ManagedRuntime.make(build.KV.layer({ dataDir, sync: "always", callTimeout: Duration.seconds(30) }))
  const value = "v".repeat(100)
  const measure = (run: () => Promise<number>): Measure => ({ label, run })
  return {
    calls: (callers: number) => measure(() => Effect.runPromise(effectOpsPerSecond(callers, () => counter.call(1), millis))),
    gets: measure(() =>
      memory.runPromise(Effect.flatMap(build.KV, (kv) =>
        Effect.zipRight(kv.put("bench", "read", value), effectOpsPerSecond(1, () => kv.get("bench", "read"), millis))))
    ),
    puts: (runtime: ManagedRuntime.ManagedRuntime<KVModule.KV, unknown>) =>
      measure(() =>
        runtime.runPromise(Effect.flatMap(build.KV, (kv) =>
          effectOpsPerSecond(100, (i) => kv.put("bench", `key-${i % 10_000}`, value), millis)))
      ),
    reads: (runtime: ManagedRuntime.ManagedRuntime<KVModule.KV, unknown>) =>
      measure(() =>
        runtime.runPromise(Effect.flatMap(build.KV, (kv) =>
          effectOpsPerSecond(1, (i) => kv.get("bench", `key-${i % 10_000}`), millis)))
      ),
    memory,
    disk,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await memory.dispose()
      await disk.dispose()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

export const run = async () => {
  const flag = process.argv.indexOf("--baseline")
  const baselineDir = flag >= 0 ? process.argv[flag + 1] : undefined
  heading(`Calls and puts: this build beside ${baselineDir === undefined ? "itself (the noise floor)" : baselineDir}`)
  const current = await sideOf(await load(undefined), "this build")
  const baseline = await sideOf(await load(baselineDir), baselineDir === undefined ? "this build again" : "baseline")
  for (const callers of [1, 100]) {
    await compare(`server call round trips/s, ${callers} caller(s)`, current.calls(callers), baseline.calls(callers), {
      unit: "calls/s"
    })
  }
  await compare("KV.get/s in memory, 1 caller", current.gets, baseline.gets, { unit: "ops/s" })
  await compare("KV.put/s in memory, 100 callers", current.puts(current.memory), baseline.puts(baseline.memory), {
    unit: "ops/s"
  })
  await compare("KV.get/s in memory, 1 caller", current.reads(current.memory), baseline.reads(baseline.memory), {
    unit: "ops/s"
  })
  await compare(`KV.put/s, sync "always", 100 callers`, current.puts(current.disk), baseline.puts(baseline.disk), {
    unit: "ops/s"
  })
  await current.close()
  await baseline.close()
}
