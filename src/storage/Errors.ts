/**
 * The ways storage fails. Each says what happened, where, and what to do.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as internal from "./internal/errors.js"

/**
 * A read, write, sync or rename on the data folder failed (disk full, I/O error, permissions).
 *
 * @since 0.1.0
 * @category errors
 */
export const StorageError: typeof internal.StorageError = internal.StorageError

/**
 * @since 0.1.0
 * @category errors
 */
export type StorageError = internal.StorageError

/**
 * A write or fsync failed because the disk (or the user's quota) is full: ENOSPC or EDQUOT. The
 * write was not acknowledged and nothing of it stays in the log; it can succeed once space is freed.
 *
 * @since 0.2.0
 * @category errors
 */
export const DiskFull: typeof internal.DiskFull = internal.DiskFull

/**
 * @since 0.2.0
 * @category errors
 */
export type DiskFull = internal.DiskFull

/**
 * A log or snapshot holds a bad record followed by good ones: it was damaged, not torn.
 *
 * @since 0.1.0
 * @category errors
 */
export const CorruptLog: typeof internal.CorruptLog = internal.CorruptLog

/**
 * @since 0.1.0
 * @category errors
 */
export type CorruptLog = internal.CorruptLog

/**
 * Another process holds the data folder.
 *
 * @since 0.1.0
 * @category errors
 */
export const DataDirLocked: typeof internal.DataDirLocked = internal.DataDirLocked

/**
 * @since 0.1.0
 * @category errors
 */
export type DataDirLocked = internal.DataDirLocked

/**
 * Any storage failure.
 *
 * @since 0.1.0
 * @category errors
 */
export type StorageFailure = internal.StorageFailure

/**
 * Whether a `FileSystem` error says the file or folder does not exist: the one test for "not
 * found" that storage and the tools share (`Effect.catchIf(isNotFound, ...)`).
 *
 * @since 0.2.0
 * @category utils
 */
export const isNotFound: (error: PlatformError) => boolean = internal.isNotFound
