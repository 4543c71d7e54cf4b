/**
 * How benchmarks print: each figure beside its baseline from the same run, as a ratio.
 */

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

const format = (value: number): string =>
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
