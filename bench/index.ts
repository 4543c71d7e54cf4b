/**
 * `npm run bench`: every benchmark in turn (`npm run bench kv calls` picks some). Each prints its
 * figures beside a baseline measured in interleaved rounds of the same run (`./rounds.ts`), as
 * ratios; nothing here is asserted.
 */
import { run as atomic } from "./atomic.js"
import { run as calls } from "./calls.js"
import { run as cli } from "./cli.js"
import { run as expiry } from "./expiry.js"
import { run as http } from "./http.js"
import { run as kv } from "./kv.js"
import { run as observability } from "./observability.js"
import { run as scale } from "./scale.js"
import { run as storage } from "./storage.js"
import { run as supervision } from "./supervision.js"
import { run as watch, runOverHttp as watchHttp } from "./watch.js"

const benchmarks: ReadonlyArray<readonly [string, () => Promise<void>]> = [
  ["kv", kv],
  ["calls", calls],
  ["storage", storage],
  ["scale", scale],
  ["http", http],
  ["observability", observability],
  ["supervision", supervision],
  ["atomic", atomic],
  ["expiry", expiry],
  ["watch", watch],
  ["watch-http", watchHttp],
  ["cli", cli]
]

// Names first; options (`calls --baseline DIR`) after them are read by the benchmarks themselves.
const args = process.argv.slice(2)
const firstOption = args.findIndex((arg) => arg.startsWith("--"))
const only = firstOption < 0 ? args : args.slice(0, firstOption)
for (const [name, run] of benchmarks) {
  if (only.length > 0 && !only.includes(name)) continue
  await run()
}
