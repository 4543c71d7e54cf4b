/**
 * `npm run bench`: every benchmark in turn. Each prints its figures beside a baseline measured
 * in the same run, as ratios; nothing here is asserted.
 */
import { run as http } from "./http.js"
import { run as kv } from "./kv.js"
import { run as storage } from "./storage.js"
import { run as supervision } from "./supervision.js"

const benchmarks: ReadonlyArray<readonly [string, () => Promise<void>]> = [
  ["kv", kv],
  ["storage", storage],
  ["http", http],
  ["supervision", supervision]
]

const only = process.argv.slice(2)
for (const [name, run] of benchmarks) {
  if (only.length > 0 && !only.includes(name)) continue
  await run()
}
