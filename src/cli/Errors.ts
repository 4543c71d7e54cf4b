/**
 * The ways a CLI command fails on its own account, before or after the store is reached.
 * Each message is the one line the user reads.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { counted } from "./Output.js"

/**
 * A value that is not JSON, from an argument, stdin, or a line of an import.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidJson extends Schema.TaggedError<InvalidJson>()("InvalidJson", {
  source: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.source} is not valid JSON: ${this.reason}`
  }
}

/**
 * A line of an import that is not a `{"store","key","value"}` object, or that the store refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidImportLine extends Schema.TaggedError<InvalidImportLine>()("InvalidImportLine", {
  line: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `line ${this.line} of the import: ${this.reason}`
  }
}

/**
 * The server could not be reached at all.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerUnreachable extends Schema.TaggedError<ServerUnreachable>()("ServerUnreachable", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot reach ${this.url} (${this.reason}); start one with "effect-kv serve" or pass --url`
  }
}

/**
 * The server answered with an error; `error` is its tag, `reason` its message.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestFailed extends Schema.TaggedError<RequestFailed>()("RequestFailed", {
  error: Schema.String,
  reason: Schema.String,
  /** The answer's status, when the command read it (`watch` retries a 5xx). */
  status: Schema.optionalWith(Schema.Number, { exact: true })
}) {
  override get message(): string {
    return `${this.reason} (${this.error})`
  }
}

/**
 * `verify` found damage.
 *
 * @since 0.1.0
 * @category errors
 */
export class VerifyFailed extends Schema.TaggedError<VerifyFailed>()("VerifyFailed", {
  dataDir: Schema.String,
  corrupt: Schema.Number,
  torn: Schema.Number
}) {
  override get message(): string {
    return `${this.dataDir} has ${counted(this.corrupt, "corrupt file")} and ${counted(this.torn, "torn tail")}: ` +
      `a torn tail is cut off on the next open, a corrupt file must be restored from a backup`
  }
}

/**
 * A tool that reads a data folder was pointed where there is none.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoDataDir extends Schema.TaggedError<NoDataDir>()("NoDataDir", {
  dataDir: Schema.String
}) {
  override get message(): string {
    return `there is no data folder at ${this.dataDir}; pass --data-dir (or set KV_DATA_DIR)`
  }
}

/**
 * A tool was asked for a store that holds no data in the folder.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoSuchStore extends Schema.TaggedError<NoSuchStore>()("NoSuchStore", {
  store: Schema.String,
  dataDir: Schema.String
}) {
  override get message(): string {
    return `no store "${this.store}" holds data in ${this.dataDir}; leave out the store to take them all`
  }
}

/**
 * The server could not listen on the address asked for.
 *
 * @since 0.1.0
 * @category errors
 */
export class CannotListen extends Schema.TaggedError<CannotListen>()("CannotListen", {
  host: Schema.String,
  port: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot listen on ${this.host}:${this.port} (${this.reason}); choose another --port or --host`
  }
}

/**
 * A file named on the command line could not be read.
 *
 * @since 0.2.0
 * @category errors
 */
export class CannotRead extends Schema.TaggedError<CannotRead>()("CannotRead", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot read ${this.path} (${this.reason}); check its name and permissions`
  }
}
