/**
 * What the CLI writes to the terminal: plain text without colour codes when stdout is not a
 * terminal or `NO_COLOR` is set, one line per failure on stderr, and progress that only a person
 * watching stderr sees.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

// SGR and cursor sequences, as @effect/cli's help renderer emits them.
const ansiSequence = /\u001b\[[0-9;?]*[A-Za-z]/g

/**
 * `n` and what it counts, plural unless one: `counted(1, "record")` is "1 record".
 *
 * @since 0.2.0
 * @category utils
 */
export const counted = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`

/**
 * Whether colour codes may be written: stdout is a terminal and `NO_COLOR` is unset or empty.
 *
 * @since 0.1.0
 * @category utils
 */
export const colourEnabled: Effect.Effect<boolean> = Effect.gen(function*() {
  const noColour = yield* Config.option(Config.string("NO_COLOR")).pipe(Effect.orElseSucceed(() => Option.none()))
  return process.stdout.isTTY === true && Option.getOrElse(noColour, () => "") === ""
})

/**
 * A console that trims the blank lines @effect/cli leaves after its messages on stderr, and
 * strips colour codes when colour is off.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConsole: Layer.Layer<never> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const colour = yield* colourEnabled
    const base = yield* Effect.console
    const plain = (text: unknown) => colour || typeof text !== "string" ? text : text.replace(ansiSequence, "")
    const trimmed = (text: unknown) => typeof text === "string" ? text.trimEnd() : text
    return Console.setConsole({
      ...base,
      log: (...args) => base.log(...args.map(plain)),
      error: (...args) => base.error(...args.map((arg) => trimmed(plain(arg))))
    })
  })
)

/**
 * Writes one line to stdout.
 *
 * @since 0.1.0
 * @category utils
 */
export const printLine = (line: string): Effect.Effect<void> => Console.log(line)

/**
 * Writes a progress line to stderr, only when stderr is a terminal; it overwrites itself. A
 * command that prints its results while it goes (`export`) shows progress only when its stdout
 * goes elsewhere, so that the two do not mix on one screen.
 *
 * @since 0.1.0
 * @category utils
 */
export const progress = (line: string, options?: { readonly printsResults?: boolean }): Effect.Effect<void> =>
  Effect.sync(() => {
    if (showsProgress(options)) process.stderr.write(`\r\u001b[2K${line}`)
  })

/**
 * Ends a progress line, so that what follows starts on a line of its own.
 *
 * @since 0.1.0
 * @category utils
 */
export const progressDone = (options?: { readonly printsResults?: boolean }): Effect.Effect<void> =>
  Effect.sync(() => {
    if (showsProgress(options)) process.stderr.write("\n")
  })

const showsProgress = (options: { readonly printsResults?: boolean } | undefined) =>
  process.stderr.isTTY === true && !(options?.printsResults === true && process.stdout.isTTY === true)

/**
 * The one line that tells the user why a command failed: the error's message, no stack.
 *
 * @since 0.1.0
 * @category utils
 */
export const failureLine = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const reason = Option.isSome(failure)
    ? messageOf(failure.value)
    : Option.match(Cause.dieOption(cause), {
      onNone: () => "interrupted",
      onSome: (defect) => `unexpected error (a bug, please report it): ${messageOf(defect)}`
    })
  return `error: ${reason.replace(/\s*\n\s*/g, " ").trim()}`
}

const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== ""
    ? error.message
    : Predicate.hasProperty(error, "_tag") ? String(error._tag) : String(error)

/**
 * Prints the failure of `cause` as one line on stderr.
 *
 * @since 0.1.0
 * @category utils
 */
export const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Console.error(failureLine(cause))
