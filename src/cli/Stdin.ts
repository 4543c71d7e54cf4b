/**
 * Standard input, read as text: whole (a value for `put -`) or line by line (an import).
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import type * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * Standard input as lines of text, without their line ends.
 *
 * @since 0.1.0
 * @category utils
 */
export const lines: Stream.Stream<string> = NodeStream.stdin.pipe(Stream.decodeText(), Stream.splitLines)

/**
 * All of standard input as text.
 *
 * @since 0.1.0
 * @category utils
 */
export const text: Effect.Effect<string> = NodeStream.stdin.pipe(Stream.decodeText(), Stream.mkString)
