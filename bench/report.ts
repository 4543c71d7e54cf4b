/**
 * How benchmarks print and time: each figure beside its baseline from the same run, as a ratio
 * (`./rounds.ts` runs the two in interleaved rounds).
 */
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"

/** Prints one line: the figure, the baseline and figure ÷ baseline. */
export const report = (label: string, value: number, unit: string, baseline?: { label: string; value: number }) => {
  const figure = `${format(value)} ${unit}`
  if (baseline === undefined) {
    console.log(`  ${label.padEnd(52)} ${figure}`)
    return
  }
  const ratio = (value / baseline.value).toFixed(2)
  console.log(`  ${label.padEnd(52)} ${figure.padStart(16)}   vs ${baseline.label}: ${format(baseline.value)} ${unit}   ratio ${ratio}x`)
}

/** Prints a section heading. */
export const heading = (title: string) => console.log(`\n${title}`)

/** A figure as printed: whole numbers with thousands separators from 100 up, two decimals below. */
export const format = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2)

/** Runs `body` repeatedly for about `millis` ms (after a warm-up) and returns operations per second. */
export const opsPerSecond = async (body: (n: number) => Promise<void> | void, batch: number, millis = 1000) => {
  await body(batch) // warm-up
  let operations = 0
  const start = performance.now()
  while (performance.now() - start < millis) {
    await body(batch)
    operations += batch
  }
  return operations / ((performance.now() - start) / 1000)
}

/**
 * Runs `step` in a loop from `callers` concurrent fibers for about `millis` ms; returns steps per
 * second. The clock is read once per 100 steps, so that it stays out of the figure.
 */
export const effectOpsPerSecond = <E, R>(
  callers: number,
  step: (i: number) => Effect.Effect<unknown, E, R>,
  millis = 1000
): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    let count = 0
    const start = performance.now()
    const deadline = start + millis
    const caller = (offset: number) =>
      Effect.gen(function*() {
        let i = offset
        while (performance.now() < deadline) {
          for (let j = 0; j < 100; j++) yield* step(i++)
          count += 100
        }
      })
    return Effect.all(Array.from({ length: callers }, (_, c) => caller(c * 97)), { concurrency: "unbounded", discard: true })
      .pipe(Effect.map(() => count / ((performance.now() - start) / 1000)))
  })

/** A full collection, where node runs with `--expose-gc` (as `npm run bench` does); nothing otherwise. */
export const collectGarbage = (): void => (globalThis as { gc?: () => void }).gc?.()

// What `heapAfter` measures, held here so that the collector cannot free it before the measure.
const retained = new Set<unknown>()

/** MiB of heap that `build`'s result holds after a full collection (exact with `node --expose-gc`). */
export const heapAfter = async (build: () => Promise<unknown>) => {
  // Until the heap stops shrinking: what a benchmark before released (a disposed runtime, files
  // closed) is let go over a few turns of the event loop, and counted as ours until then (a figure
  // measured after the atomic benchmark came out negative).
  const collect = async () => {
    let previous = Infinity
    for (let i = 0; i < 50; i++) {
      collectGarbage()
      await new Promise((resolve) => setTimeout(resolve, 10))
      const used = process.memoryUsage().heapUsed
      if (previous - used < 2 ** 20) return
      previous = used
    }
  }
  await collect()
  const before = process.memoryUsage().heapUsed
  retained.add(await build())
  await collect()
  const bytes = process.memoryUsage().heapUsed - before
  retained.clear()
  return bytes / 2 ** 20
}

/**
 * CPU seconds of this process's main thread alone (Linux: `/proc/self/task/<pid>/stat`, at the
 * kernel's 10 ms tick), or `undefined` where it cannot be read. Unlike `process.cpuUsage()` it
 * leaves out V8's helper threads (parallel scavenges, concurrent marking), which another core
 * would run on a machine less busy than these.
 */
export const mainThreadCpuSeconds = (): number | undefined => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8")
    // Fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}
