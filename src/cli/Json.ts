/**
 * JSON text at the CLI's boundary (arguments, stdin, import lines), decoded with `Schema` and
 * explained in one line when it is wrong.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * Decodes JSON text into `schema`'s type; a missing field is an error even where any value would do.
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeJson = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decode(Schema.parseJson(schema), { exact: true })
  return (text: string): Effect.Effect<A, ParseResult.ParseError> => decode(text)
}

/**
 * What is wrong, in one line: each issue's path and message.
 *
 * @since 0.1.0
 * @category utils
 */
export const reasonOf = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`)
    .join("; ")
