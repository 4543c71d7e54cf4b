/**
 * Limits on names, keys and values, and the checks that enforce them at the edge of the store.
 * The checks return an `Either`: an `Effect` where one is wanted, and readable at once on the
 * read path, where every operation of the Effect runtime counts.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import {
  AtomicTooLarge,
  InvalidKey,
  InvalidName,
  InvalidTtl,
  InvalidValue,
  TooManyOperations,
  ValueTooLarge
} from "./Errors.js"
import type { AtomicCheck, AtomicOperation } from "./Store.js"

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
  /**
   * Most operations, and most checks, in one atomic write (default 1,000 each).
   *
   * @since 0.2.0
   */
  readonly maxAtomicOperations: number
  /**
   * Most bytes of keys and values (JSON) in one atomic write, counted as its log record holds
   * them (default 16 MiB; at most 255 MiB, as a record holds at most 256 MiB).
   *
   * @since 0.2.0
   */
  readonly maxAtomicBytes: number
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
  maxValueBytes: 1024 * 1024,
  maxAtomicOperations: 1000,
  // Sixteen values of the largest size, or 1,000 operations of 16 KiB: the record is written and
  // fsynced while the store's other writes wait, so its size is their latency (~30 ms at 500 MB/s).
  maxAtomicBytes: 16 * 1024 * 1024
}

/**
 * The most `maxAtomicBytes` may be: an atomic write is one log record, and a record holds at most
 * 256 MiB; larger settings are taken as this.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxAtomicBytesCeiling = 255 * 1024 * 1024

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
  const problem = keyProblem(limits, key)
  return problem === undefined ? Either.right(key) : Either.left(problem)
}

/**
 * What {@link checkKey} finds wrong with `key`, or `undefined`: the same check with nothing
 * allocated for a good key, for the read path.
 *
 * @since 0.2.0
 * @category validation
 */
export const keyProblem = (limits: Limits, key: string): InvalidKey | undefined => {
  if (key.length === 0) return new InvalidKey({ key, reason: "it is empty" })
  // A UTF-16 unit is at most 3 bytes of UTF-8: short keys need no count.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, "utf8")
    if (bytes > limits.maxKeyBytes) {
      return new InvalidKey({ key, reason: `it is ${bytes} bytes of UTF-8, over the limit of ${limits.maxKeyBytes}` })
    }
  }
  if (!key.isWellFormed()) {
    return new InvalidKey({ key, reason: "it holds a lone UTF-16 surrogate, which is not valid UTF-8" })
  }
  return undefined
}

/**
 * Serialises a value to JSON once, checking that it is JSON exactly and within `maxValueBytes`:
 * a value that would not read back the same after a reopen (a non-finite number, `-0`,
 * `undefined`, a hole in an array, a function, a symbol, a bigint, a cycle, a `Map`, a `Date`,
 * any object that is not plain, any `toJSON`) fails with `InvalidValue` naming where it is.
 *
 * @since 0.1.0
 * @category validation
 */
export const encodeValue = (limits: Limits, value: unknown): Either.Either<string, InvalidValue | ValueTooLarge> => {
  let json: string | undefined
  let problem: Problem | undefined
  try {
    json = JSON.stringify(value)
    // Stringify descended wherever `inexact` does, so a cycle has already been ruled out.
    problem = inexact(value, undefined)
  } catch (error) {
    // Cycles, bigints, nesting too deep for the stack, a getter or toJSON that throws: slow is fine here.
    return Either.left(invalid(diagnose(value, error)))
  }
  if (problem !== undefined) return Either.left(invalid(problem))
  if (json === undefined) return Either.left(invalid({ reason: `${typeof value} has no JSON form`, path: [] }))
  // Same shortcut as for keys: a JSON string of n units is at most 3n bytes.
  if (json.length * 3 > limits.maxValueBytes) {
    const bytes = Buffer.byteLength(json, "utf8")
    if (bytes > limits.maxValueBytes) return Either.left(new ValueTooLarge({ bytes, maxBytes: limits.maxValueBytes }))
  }
  return Either.right(json)
}

/**
 * Checks JSON text that `JSON.parse` accepted for numbers it could not keep: one that overflows
 * to ±Infinity (`1e400`) or underflows to 0 from non-zero digits (`1e-400`). The HTTP and CLI
 * doors run it on the text they parse; the value itself then goes through {@link encodeValue}.
 *
 * @since 0.2.0
 * @category validation
 */
export const checkJsonText = (text: string): Either.Either<string, InvalidValue> => {
  // Without an exponent a number needs hundreds of digits to leave a double's range.
  if (!mayHoldLossyNumber.test(text)) return Either.right(text)
  const problem = lossyNumber(text)
  return problem === undefined ? Either.right(text) : Either.left(invalid(problem))
}

/** What is not JSON in a value, and where: `path` runs from the problem outwards, as it is found. */
interface Problem {
  readonly reason: string
  readonly path: Array<string | number>
}

const invalid = (problem: Problem) => new InvalidValue({ reason: problem.reason, path: formatPath(problem.path) })

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** `$.a[3].b` from the segments innermost first. */
const formatPath = (segments: ReadonlyArray<string | number>): string => {
  let path = "$"
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!
    path += typeof segment === "number"
      ? `[${segment}]`
      : identifier.test(segment)
      ? `.${segment}`
      : `[${JSON.stringify(segment)}]`
  }
  return path
}

const at = (reason: string): Problem => ({ reason, path: [] })

/**
 * The first place where `value` is not exactly JSON, or `undefined`. With `ancestors` it also
 * finds cycles; without, the caller knows there are none. No allocation unless it finds one.
 */
const inexact = (value: unknown, ancestors: Set<object> | undefined): Problem | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      if (!Number.isFinite(value)) {
        return at(`${value} is not a JSON number; store null or a string instead`)
      }
      return value === 0 && 1 / value < 0 ? at("-0 would read back as 0; store 0") : undefined
    case "undefined":
      return at("undefined has no JSON form; leave the key out, or store null")
    case "function":
      return at("a function has no JSON form")
    case "symbol":
      return at("a symbol has no JSON form; store a string")
    case "bigint":
      return at("a bigint has no JSON form; store it as a string or a number")
    case "object":
      return value === null ? undefined : inexactObject(value, ancestors)
  }
}

const inexactObject = (value: object, ancestors: Set<object> | undefined): Problem | undefined => {
  const isArray = Array.isArray(value)
  const prototype = Object.getPrototypeOf(value)
  if (isArray ? prototype !== Array.prototype : prototype !== Object.prototype && prototype !== null) {
    return at(notPlain(value))
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return at("it has a toJSON method, so it would read back as what toJSON returns; store that instead")
  }
  if (ancestors !== undefined) {
    if (ancestors.has(value)) return at("it contains itself (a cycle), which JSON cannot represent")
    ancestors.add(value)
  }
  let problem: Problem | undefined
  if (isArray) {
    for (let i = 0; i < value.length; i++) {
      const element = value[i]
      problem = inexact(element, ancestors)
      if (problem !== undefined) {
        if (element === undefined && !(i in value)) {
          problem = at("a hole in an array has no JSON form; fill it, with null for example")
        }
        problem.path.push(i)
        break
      }
    }
  } else {
    for (const key in value) {
      problem = inexact((value as Record<string, unknown>)[key], ancestors)
      if (problem !== undefined) {
        problem.path.push(key)
        break
      }
    }
  }
  ancestors?.delete(value)
  return problem
}

const notPlain = (value: object): string => {
  if (value instanceof Map) return "a Map is not JSON; store Object.fromEntries(map), or an array of entries"
  if (value instanceof Set) return "a Set is not JSON; store an array"
  if (value instanceof Date) return "a Date is not JSON; store date.toISOString() or date.getTime()"
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  const what = typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object with a prototype of its own"
  return `${what} is not a plain object or array, so it would not read back as itself; store its fields in a plain object`
}

/** Why `JSON.stringify` threw: the walk again, this time watching for cycles. */
const diagnose = (value: unknown, error: unknown): Problem => {
  try {
    const problem = inexact(value, new Set())
    if (problem !== undefined) return problem
  } catch {
    // Too deep for the walk too: the stringify error below says so.
  }
  if (error instanceof RangeError) return at("it is nested too deeply to be serialised")
  return at(`serialising it failed: ${error instanceof Error ? error.message : String(error)}`)
}

const mayHoldLossyNumber = /\d[eE]|\d{300}/

const numberToken = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/**
 * Scans JSON text (known to parse) for the first number whose value lost its digits, keeping
 * the path to it: the key or index at each depth.
 */
const lossyNumber = (text: string): Problem | undefined => {
  const path: Array<string | number> = []
  const inObject: Array<boolean> = []
  let awaitingKey = false
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === "\"") {
      let end = i + 1
      while (text[end] !== "\"") end += text[end] === "\\" ? 2 : 1
      if (awaitingKey) {
        path[path.length - 1] = JSON.parse(text.slice(i, end + 1)) as string
        awaitingKey = false
      }
      i = end + 1
    } else if (c === "{" || c === "[") {
      inObject.push(c === "{")
      path.push(c === "{" ? "" : 0)
      awaitingKey = c === "{"
      i++
    } else if (c === "}" || c === "]") {
      inObject.pop()
      path.pop()
      i++
    } else if (c === ",") {
      if (inObject[inObject.length - 1]) awaitingKey = true
      else (path[path.length - 1] as number)++
      i++
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      numberToken.lastIndex = i
      const token = numberToken.exec(text)![0]
      const number = Number(token)
      const digits = token.replace(/[eE].*$/, "")
      if (!Number.isFinite(number) || (number === 0 && /[1-9]/.test(digits))) {
        const reason = `the number ${token.length > 40 ? `${token.slice(0, 40)}...` : token} ` +
          `${Number.isFinite(number) ? "underflows to 0" : "overflows to Infinity"} as a double; ` +
          "send it as a string, or one within ±1.8e308 and not closer to 0 than 5e-324"
        return { reason, path: path.slice().reverse() }
      }
      i += token.length
    } else {
      i++
    }
  }
  return undefined
}

/**
 * A time to live as whole milliseconds (rounded up), or `undefined` for `Duration.infinity` (no
 * expiry); anything but a positive duration of at most 10^15 ms fails with `InvalidTtl`.
 *
 * @since 0.2.0
 * @category validation
 */
export const checkTtl = (ttl: Duration.DurationInput): Either.Either<number | undefined, InvalidTtl> => {
  const duration = Duration.decodeUnknown(ttl)
  if (Option.isNone(duration)) return Either.left(new InvalidTtl({ reason: `${String(ttl)} is not a duration` }))
  if (!Duration.isFinite(duration.value)) return Either.right(undefined)
  const millis = Duration.toMillis(duration.value)
  if (!(millis > 0)) {
    return Either.left(new InvalidTtl({ reason: `it must be more than 0, not ${Duration.format(duration.value)}; to remove an expiry, persist the key` }))
  }
  if (millis > maxTtlMillis) {
    return Either.left(new InvalidTtl({ reason: `it is over ${maxTtlMillis} ms (31,000 years); for a key that never expires, give no ttl` }))
  }
  return Either.right(Math.ceil(millis))
}

// Deadlines stay whole numbers of milliseconds well within a double's exact integers.
const maxTtlMillis = 1e15

/**
 * A put's absolute deadline as whole epoch milliseconds (rounded up), for a put that has no
 * `ttl` (`hasTtl`: one is given too, which fails); anything but a finite number from 0 to 10^15
 * fails with `InvalidTtl`. A deadline already past is taken: the key is gone at once, as with
 * Redis `SET ... PXAT`, so a caller racing the clock needs no second check.
 *
 * @since 0.2.0
 * @category validation
 */
export const checkExpiresAt = (expiresAt: number, hasTtl: boolean): Either.Either<number, InvalidTtl> => {
  if (hasTtl) return Either.left(new InvalidTtl({ reason: "give a ttl or an expiresAt, not both" }))
  if (!(Number.isFinite(expiresAt) && expiresAt >= 0 && expiresAt <= maxTtlMillis)) {
    return Either.left(new InvalidTtl({ reason: `expiresAt must be epoch milliseconds from 0 to ${maxTtlMillis}, not ${expiresAt}` }))
  }
  return Either.right(Math.ceil(expiresAt))
}

/**
 * An atomic write as the caller gives it: checks, then operations applied in order.
 *
 * @since 0.2.0
 * @category models
 */
export interface AtomicWrite {
  /** Each key must be at `version`, or absent (`null`); else nothing is applied (`AtomicCheckFailed`). */
  readonly checks?: ReadonlyArray<AtomicCheck>
  readonly ops: ReadonlyArray<
    | { readonly op: "put"; readonly key: string; readonly value: unknown; readonly ttl?: Duration.DurationInput }
    | { readonly op: "delete"; readonly key: string }
    | { readonly op: "increment"; readonly key: string; readonly by?: number }
  >
}

/**
 * Checks an atomic write against the limits: its count, every key, value and ttl, an
 * increment's `by` (a finite number, default 1), and its size; returns it as the store applies it.
 *
 * @since 0.2.0
 * @category validation
 */
export const checkAtomic = (
  limits: Limits,
  write: AtomicWrite
): Either.Either<
  { readonly checks: ReadonlyArray<AtomicCheck>; readonly operations: ReadonlyArray<AtomicOperation> },
  InvalidKey | InvalidValue | ValueTooLarge | InvalidTtl | TooManyOperations | AtomicTooLarge
> => {
  const checks = write.checks ?? []
  // Operations and checks are bounded each on its own, so 1,000 operations may carry their checks.
  if (write.ops.length > limits.maxAtomicOperations) {
    return Either.left(new TooManyOperations({ what: "operations", count: write.ops.length, max: limits.maxAtomicOperations }))
  }
  if (checks.length > limits.maxAtomicOperations) {
    return Either.left(new TooManyOperations({ what: "checks", count: checks.length, max: limits.maxAtomicOperations }))
  }
  for (const check of checks) {
    const key = checkKey(limits, check.key)
    if (Either.isLeft(key)) return Either.left(key.left)
  }
  const maxBytes = Math.min(limits.maxAtomicBytes, maxAtomicBytesCeiling)
  // Counted as the record lays them out: a kind, a sized key, and a put's expiry and sized JSON.
  let bytes = 0
  let units = 0
  const operations: Array<AtomicOperation> = []
  for (const operation of write.ops) {
    const key = checkKey(limits, operation.key)
    if (Either.isLeft(key)) return Either.left(key.left)
    units += operation.key.length
    bytes += 5
    if (operation.op === "delete") {
      operations.push({ op: "delete", key: operation.key })
    } else if (operation.op === "increment") {
      const by = operation.by ?? 1
      if (typeof by !== "number" || !Number.isFinite(by)) {
        return Either.left(new InvalidValue({ reason: `an increment's by must be a finite number, not ${String(by)}`, path: "$" }))
      }
      bytes += 12 + 24 // an increment's result: a number's JSON is at most 24 characters
      operations.push({ op: "increment", key: operation.key, by })
    } else {
      const json = encodeValue(limits, operation.value)
      if (Either.isLeft(json)) return Either.left(json.left)
      const ttl = operation.ttl === undefined ? Either.right(undefined) : checkTtl(operation.ttl)
      if (Either.isLeft(ttl)) return Either.left(ttl.left)
      units += json.right.length
      bytes += 12
      operations.push({ op: "put", key: operation.key, value: operation.value, json: json.right, ttl: ttl.right })
    }
  }
  // A UTF-16 unit is at most 3 bytes of UTF-8: most writes need no count.
  if (bytes + 3 * units > maxBytes) {
    for (const operation of operations) {
      bytes += Buffer.byteLength(operation.key)
      if (operation.op === "put") bytes += Buffer.byteLength(operation.json)
    }
    if (bytes > maxBytes) return Either.left(new AtomicTooLarge({ bytes, maxBytes }))
  }
  return Either.right({ checks, operations })
}
