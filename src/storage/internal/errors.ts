/**
 * The ways storage fails, defined here and re-exported by `../Errors.ts`.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as Schema from "effect/Schema"

/** A read, write, sync or rename on the data folder failed (disk full, I/O error, permissions). */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} failed on ${this.path}: ${this.reason}; nothing unsynced was acknowledged, ` +
      `the store reopens from its log on next use`
  }
}

/** A log or snapshot holds a bad record followed by good ones: it was damaged, not torn. */
export class CorruptLog extends Schema.TaggedError<CorruptLog>()("CorruptLog", {
  file: Schema.String,
  offset: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file} is corrupt at byte ${this.offset} (${this.reason}); ` +
      `restore it from a backup or run "effect-kv verify" to see the damage`
  }
}

/** Another process holds the data folder. */
export class DataDirLocked extends Schema.TaggedError<DataDirLocked>()("DataDirLocked", {
  dataDir: Schema.String,
  pid: Schema.Number
}) {
  override get message(): string {
    return `${this.dataDir} is in use by process ${this.pid}; stop it or use another --data-dir`
  }
}

/** Any storage failure. */
export type StorageFailure = StorageError | CorruptLog | DataDirLocked

/** Whether a file-system error says the file or folder does not exist. */
export const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"
