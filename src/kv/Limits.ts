/**
 * Limits on names, keys and values, and the checks that enforce them at the edge of the store.
 * The checks return an `Either`: an `Effect` where one is wanted, and readable at once on the
 * read path, where every operation of the Effect runtime counts.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { InvalidKey, InvalidName, InvalidValue, ValueTooLarge } from "./Errors.js"

/**
 * How large names, keys and values may be.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Longest store name, in characters (default 128). */
  readonly maxNameLength: number
  /** Longest key, in bytes of UTF-8 (default 1,024). */
  readonly maxKeyBytes: number
  /** Largest value, in bytes of its JSON (default 1 MiB). */
  readonly maxValueBytes: number
}

/**
 * The limits unless `KVOptions.limits` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits: Limits = {
  maxNameLength: 128,
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024
}

const nameCharacters = /^[A-Za-z0-9._-]+$/

/**
 * A store name: 1 to `maxNameLength` characters of `[A-Za-z0-9._-]`, neither `.` nor `..`.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkName = (limits: Limits, name: string): Either.Either<string, InvalidName> => {
  if (name.length === 0) return Either.left(new InvalidName({ name, reason: "it is empty" }))
  if (name.length > limits.maxNameLength) {
    return Either.left(
      new InvalidName({ name, reason: `it is ${name.length} characters, over the limit of ${limits.maxNameLength}` })
    )
  }
  if (!nameCharacters.test(name)) {
    return Either.left(new InvalidName({ name, reason: "use only letters, digits, '.', '_' and '-'" }))
  }
  if (name === "." || name === "..") {
    return Either.left(new InvalidName({ name, reason: "'.' and '..' name folders, not stores" }))
  }
  return Either.right(name)
}

/**
 * A key: 1 to `maxKeyBytes` bytes of UTF-8, so no lone surrogate halves.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkKey = (limits: Limits, key: string): Either.Either<string, InvalidKey> => {
  if (key.length === 0) return Either.left(new InvalidKey({ key, reason: "it is empty" }))
  // A UTF-16 unit is at most 3 bytes of UTF-8: short keys need no count.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, "utf8")
    if (bytes > limits.maxKeyBytes) {
      return Either.left(
        new InvalidKey({ key, reason: `it is ${bytes} bytes of UTF-8, over the limit of ${limits.maxKeyBytes}` })
      )
    }
  }
  if (!key.isWellFormed()) {
    return Either.left(new InvalidKey({ key, reason: "it holds a lone UTF-16 surrogate, which is not valid UTF-8" }))
  }
  return Either.right(key)
}

/**
 * Serialises a value to JSON once, checking that it is JSON and within `maxValueBytes`.
 *
 * @since 0.1.0
 * @category validation
 */
export const encodeValue = (limits: Limits, value: unknown): Either.Either<string, InvalidValue | ValueTooLarge> => {
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (error) {
    return Either.left(new InvalidValue({ reason: error instanceof Error ? error.message : String(error) }))
  }
  if (json === undefined) return Either.left(new InvalidValue({ reason: `${typeof value} has no JSON form` }))
  // Same shortcut as for keys: a JSON string of n units is at most 3n bytes.
  if (json.length * 3 > limits.maxValueBytes) {
    const bytes = Buffer.byteLength(json, "utf8")
    if (bytes > limits.maxValueBytes) return Either.left(new ValueTooLarge({ bytes, maxBytes: limits.maxValueBytes }))
  }
  return Either.right(json)
}
