/**
 * One line about a cause, for the reasons that servers and supervisors put in their errors and logs.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Inspectable from "effect/Inspectable"

/** The first line of the main failure in `cause`: an error's message, a string as it is, other values as JSON. */
export const describe = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  const text = failure instanceof Error
    ? failure.message || failure.name
    : Inspectable.toStringUnknown(failure, 0)
  return text.split("\n")[0] || "unknown"
}
