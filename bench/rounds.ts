/**
 * The harness every benchmark uses: a figure and its baseline measured in interleaved rounds
 * (figure, baseline, figure, baseline, …), so that whatever else the machine does slows both
 * alike. It reports the median of the per-round ratios with their min and max, and the median of
 * each absolute figure. One round of each is run first and not counted (JIT, caches, files).
 */
import { format } from "./report.js"

/** One side of a comparison: `run` measures once and returns the figure. */
export interface Measure {
  readonly label: string
  readonly run: () => Promise<number>
}

export interface RoundsOptions {
  /** What the figures count, as printed: "ops/s", "MiB", "ms". */
  readonly unit: string
  /** Rounds counted (default 5; fewer than 5 is raised to 5). */
  readonly rounds?: number
  /** Rounds run first and not counted (default 1). */
  readonly warmup?: number
}

export interface Comparison {
  /** Median of the figure over the rounds. */
  readonly figure: number
  /** Median of the baseline over the rounds. */
  readonly baseline: number
  /** Figure ÷ baseline, taken in each round: the median, the lowest and the highest. */
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number }
}

/** Measures `figure` and `baseline` in interleaved rounds and prints one line; see the module. */
export const compare = async (
  label: string,
  figure: Measure,
  baseline: Measure,
  options: RoundsOptions
): Promise<Comparison> => {
  const rounds = Math.max(5, options.rounds ?? 5)
  for (let i = 0; i < (options.warmup ?? 1); i++) {
    await figure.run()
    await baseline.run()
  }
  const figures: Array<number> = []
  const baselines: Array<number> = []
  const ratios: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    const a = await figure.run()
    const b = await baseline.run()
    figures.push(a)
    baselines.push(b)
    ratios.push(a / b)
  }
  const result: Comparison = {
    figure: median(figures),
    baseline: median(baselines),
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }
  }
  const { ratio } = result
  console.log(
    `  ${label.padEnd(44)} ${figure.label}: ${format(result.figure)} ${options.unit}   ` +
      `vs ${baseline.label}: ${format(result.baseline)} ${options.unit}   ` +
      `ratio ${times(ratio.median)} (${times(ratio.min)}–${times(ratio.max)}, ${rounds} rounds)`
  )
  return result
}

// Two decimals, or two significant digits for ratios too small for that.
const times = (ratio: number): string => `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}x`

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
