/**
 * The ways storage fails, defined here and re-exported by `../Errors.ts`.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** A read, write, sync or rename on the data folder failed (disk full, I/O error, permissions). */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} failed on ${this.path}: ${this.reason}; nothing unsynced was acknowledged; ` +
      `retry later, and check the disk if it goes on`
  }
}

/** A write or fsync failed because the disk (or the user's quota) is full: ENOSPC or EDQUOT. */
export class DiskFull extends Schema.TaggedError<DiskFull>()("DiskFull", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} failed on ${this.path}: the disk is full (${this.reason}); nothing unsynced was ` +
      `acknowledged; free some space and retry`
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

/** Another process holds the data folder; `pid` is 0 when its `LOCK` does not name it yet. */
export class DataDirLocked extends Schema.TaggedError<DataDirLocked>()("DataDirLocked", {
  dataDir: Schema.String,
  pid: Schema.Number
}) {
  override get message(): string {
    const holder = this.pid > 0 ? `process ${this.pid}` : "another process"
    return `${this.dataDir} is in use by ${holder}; stop it or use another --data-dir`
  }
}

/** Any storage failure. */
export type StorageFailure = StorageError | DiskFull | CorruptLog | DataDirLocked

/** Whether a platform error is the disk (or quota) being full; Node's errno is in the error's `cause`. */
const isDiskFull = (error: PlatformError): boolean => {
  if (error._tag !== "SystemError" || typeof error.cause !== "object" || error.cause === null) return false
  const code = (error.cause as { readonly code?: unknown }).code
  return code === "ENOSPC" || code === "EDQUOT"
}

/** A platform error as a `DiskFull` or `StorageError` naming the operation and path. */
export const fromPlatformError = (operation: string, path: string, error: PlatformError): StorageError | DiskFull =>
  isDiskFull(error)
    ? new DiskFull({ operation, path, reason: error.message })
    : new StorageError({ operation, path, reason: error.message })

/** Turns a platform error into a `DiskFull` or `StorageError` naming the operation and path. */
export const orStorageError = (operation: string, path: string) =>
<A, R>(effect: Effect.Effect<A, PlatformError, R>): Effect.Effect<A, StorageError | DiskFull, R> =>
  Effect.mapError(effect, (error) => fromPlatformError(operation, path, error))

/** Whether a file-system error says the file or folder does not exist. */
export const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"
