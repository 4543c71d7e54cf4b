/**
 * The ways a request to the key-value store is refused. Each says what is wrong and how to fix it.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A store name that is not 1–128 characters of `[A-Za-z0-9._-]`, or is `.` or `..`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", {
  name: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid store name ${JSON.stringify(this.name.slice(0, 200))}: ${this.reason}`
  }
}

/**
 * A key that is empty, too long, or not valid UTF-8.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidKey extends Schema.TaggedError<InvalidKey>()("InvalidKey", {
  key: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid key ${JSON.stringify(this.key.slice(0, 200))}: ${this.reason}`
  }
}

/**
 * A value that is not exactly JSON, so that it would not read back the same after a reopen (a
 * function, `undefined`, a cycle, a bigint, a non-finite number, `-0`, a `Map`, a `Date`, ...).
 * `path` says where in the value, as in `$.a[3].b` (`$` is the value itself).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidValue extends Schema.TaggedError<InvalidValue>()("InvalidValue", {
  reason: Schema.String,
  path: Schema.String
}) {
  override get message(): string {
    return this.path === "$"
      ? `the value is not JSON: ${this.reason}`
      : `the value is not JSON at ${this.path}: ${this.reason}`
  }
}

/**
 * A value whose JSON is larger than the configured limit.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValueTooLarge extends Schema.TaggedError<ValueTooLarge>()("ValueTooLarge", {
  bytes: Schema.Number,
  maxBytes: Schema.Number
}) {
  override get message(): string {
    return `the value is ${this.bytes} bytes of JSON, over the limit of ${this.maxBytes}; store it in parts`
  }
}

/**
 * A bad page request for `keys`: a limit out of range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidQuery extends Schema.TaggedError<InvalidQuery>()("InvalidQuery", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid query: ${this.reason}`
  }
}

/**
 * A conditional write found another version than it expected. `null` stands for "absent":
 * `expected: null` is a create-only put that found the key, `actual: null` a key that is gone.
 * A put with `unlessVersion` that found the key at that version says so in `unlessVersion`
 * (`expected` is then `null` too, as no version would do but another).
 *
 * @since 0.1.0
 * @category errors
 */
export class VersionMismatch extends Schema.TaggedError<VersionMismatch>()("VersionMismatch", {
  store: Schema.String,
  key: Schema.String,
  expected: Schema.NullOr(Schema.Number),
  actual: Schema.NullOr(Schema.Number),
  unlessVersion: Schema.optionalWith(Schema.Number, { exact: true })
}) {
  override get message(): string {
    const show = (version: number | null) => version === null ? "absent" : `version ${version}`
    const where = `key ${JSON.stringify(this.key)} in store "${this.store}"`
    if (this.unlessVersion !== undefined) {
      return `${where} is still at version ${this.unlessVersion}, which the write was not to overwrite; read it again and retry`
    }
    return `${where} is ${show(this.actual)}, not ${show(this.expected)}; read it again and retry`
  }
}

/**
 * A store crashed more often than its restart intensity allows and was given up on. Every call to
 * it fails with this until it is restarted with `restartStore`; other stores are not affected.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreFailed extends Schema.TaggedError<StoreFailed>()("StoreFailed", {
  store: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `store "${this.store}" failed and is stopped: ${this.reason}; ` +
      `fix the cause, then restart it with restartStore("${this.store}")`
  }
}

/**
 * An expiry that is not one: a `ttl` must be a positive duration (`Duration.infinity` for none).
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidTtl extends Schema.TaggedError<InvalidTtl>()("InvalidTtl", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid ttl: ${this.reason}`
  }
}

/**
 * An atomic write whose checks failed: nothing of it was applied. `failed` lists every check that
 * failed, with the version it expected and the one the key is at (`null`: absent).
 *
 * @since 0.2.0
 * @category errors
 */
export class AtomicCheckFailed extends Schema.TaggedError<AtomicCheckFailed>()("AtomicCheckFailed", {
  store: Schema.String,
  failed: Schema.Array(Schema.Struct({
    key: Schema.String,
    expected: Schema.NullOr(Schema.Number),
    actual: Schema.NullOr(Schema.Number)
  }))
}) {
  override get message(): string {
    const show = (version: number | null) => version === null ? "absent" : `at version ${version}`
    const checks = this.failed.map((check) =>
      `key ${JSON.stringify(check.key.slice(0, 200))} is ${show(check.actual)}, not ${show(check.expected)}`
    )
    return `the atomic write to store "${this.store}" was not applied: ${checks.join("; ")}; ` +
      "read the keys again and retry"
  }
}

/**
 * An atomic write's increment met a value that is not a number, or would make one that is not
 * finite: nothing of the write was applied.
 *
 * @since 0.2.0
 * @category errors
 */
export class NotANumber extends Schema.TaggedError<NotANumber>()("NotANumber", {
  store: Schema.String,
  key: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot increment key ${JSON.stringify(this.key.slice(0, 200))} in store "${this.store}": ${this.reason}; ` +
      "nothing of the atomic write was applied: put a number there first, or increment another key"
  }
}

/**
 * An atomic write with more operations, or more checks, than `limits.maxAtomicOperations`.
 *
 * @since 0.2.0
 * @category errors
 */
export class TooManyOperations extends Schema.TaggedError<TooManyOperations>()("TooManyOperations", {
  what: Schema.Literal("operations", "checks"),
  count: Schema.Number,
  max: Schema.Number
}) {
  override get message(): string {
    return `the atomic write has ${this.count} ${this.what}, over the limit of ${this.max}; ` +
      "split it into several, or raise limits.maxAtomicOperations"
  }
}

/**
 * An atomic write whose keys and values come to more bytes than `limits.maxAtomicBytes`.
 *
 * @since 0.2.0
 * @category errors
 */
export class AtomicTooLarge extends Schema.TaggedError<AtomicTooLarge>()("AtomicTooLarge", {
  bytes: Schema.Number,
  maxBytes: Schema.Number
}) {
  override get message(): string {
    return `the atomic write is ${this.bytes} bytes of keys and values, over the limit of ${this.maxBytes}; ` +
      "split it into several, or raise limits.maxAtomicBytes"
  }
}

/**
 * A write reached its store but its answer did not come: its batch was still being written when
 * the call's timeout passed, or the store crashed under it. It may or may not have been applied
 * (a timed-out batch may still commit): read the key before retrying, or a retried conditional
 * write can fail on the change it made itself. A refusal that applied nothing is another error:
 * `Overloaded`, `CallTimeout` and `ServerStopped` (both with `taken: false`), `DiskFull`,
 * `StorageError`.
 *
 * @since 0.2.0
 * @category errors
 */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()("OutcomeUnknown", {
  store: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `the write to store "${this.store}" may or may not have been applied (${this.reason}); ` +
      `read what it wrote before retrying it`
  }
}

/**
 * A watch asked to resume after a version whose following changes are no longer held: the store
 * keeps its last `watchHistory` changes (and, after a restart, those its log holds since its last
 * compaction). `oldest` is the lowest `since` that can still be served. Read the store again
 * (`entries`, which gives its version) and watch from there.
 *
 * @since 0.2.0
 * @category errors
 */
export class HistoryCompacted extends Schema.TaggedError<HistoryCompacted>()("HistoryCompacted", {
  store: Schema.String,
  since: Schema.Number,
  oldest: Schema.Number
}) {
  override get message(): string {
    return `the changes of store "${this.store}" after version ${this.since} are no longer held ` +
      `(the oldest version to watch from is ${this.oldest}); read the store again and watch from the version it gives`
  }
}

/**
 * A watcher fell further behind than its buffer allows (`watchBuffer` unread changes), so it was
 * dropped rather than slow the store or grow without bound. `lastVersion` is the last version it
 * was given: watch again with `since: lastVersion` to go on without a gap.
 *
 * @since 0.2.0
 * @category errors
 */
export class WatchLagged extends Schema.TaggedError<WatchLagged>()("WatchLagged", {
  store: Schema.String,
  lastVersion: Schema.Number
}) {
  override get message(): string {
    return `a watch of store "${this.store}" fell too far behind and was stopped after version ${this.lastVersion}; ` +
      `read faster, or watch again with since ${this.lastVersion} to go on from there`
  }
}
