/**
 * One store's files as its writer sees them: the open log, what it covers, and the operations
 * on it (write, sync, compact, close). Only the store's writer calls these, so none locks.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Scope from "effect/Scope"
import type { Snapshot } from "../Change.js"
import { orStorageError, type StoreFiles, syncDirectory } from "./dataDir.js"
import { StorageError, type StorageFailure } from "./errors.js"
import { encodeSnapshot } from "./record.js"

/** A store's log, open or still to be created. Mutable: its writer owns it. */
export interface LogFile {
  readonly store: string
  readonly files: StoreFiles
  /** The stores folder: synced once when the store's own folder is created. */
  readonly parent: string
  handle: { readonly file: FileSystem.File; readonly scope: Scope.CloseableScope } | undefined
  /** The state the records written so far lead to: what a compaction writes. */
  committed: Snapshot
  /** Records in the log file. */
  records: number
  /** Entries in the snapshot file. */
  snapshotEntries: number
  /** Written since the last fsync. */
  dirty: boolean
  /** Set once a write or sync failed: the log takes nothing more until reopened. */
  failure: StorageFailure | undefined
}

/** Opens `path` for appending, in a scope of its own that {@link close} closes. */
export const openForAppend = (fs: FileSystem.FileSystem, path: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const file = yield* fs.open(path, { flag: "a" }).pipe(
      Scope.extend(scope),
      orStorageError("open", path),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
    return { file, scope }
  })

/** The open log, creating the store's folder and log first, durably, if this is its first write. */
const ensureOpen = (fs: FileSystem.FileSystem, log: LogFile) =>
  Effect.gen(function*() {
    if (log.handle !== undefined) return log.handle.file
    yield* fs.makeDirectory(log.files.dir, { recursive: true }).pipe(orStorageError("create folder", log.files.dir))
    log.handle = yield* openForAppend(fs, log.files.log)
    yield* syncDirectory(fs, log.files.dir)
    yield* syncDirectory(fs, log.parent)
    return log.handle.file
  })

/** Writes `bytes` with one write call; a short write is an error, never a partial success. */
export const writeOnce = (file: FileSystem.File, bytes: Uint8Array, path: string) =>
  file.write(bytes).pipe(
    orStorageError("write", path),
    Effect.flatMap((written) =>
      Number(written) === bytes.length ? Effect.void : Effect.fail(
        new StorageError({ operation: "write", path, reason: `short write: ${written} of ${bytes.length} bytes` })
      )
    )
  )

/** Appends encoded records. On failure the log takes nothing more. */
export const write = (fs: FileSystem.FileSystem, log: LogFile, bytes: Uint8Array, records: number, after: Snapshot) =>
  guard(
    log,
    Effect.gen(function*() {
      const file = yield* ensureOpen(fs, log)
      yield* writeOnce(file, bytes, log.files.log)
      log.dirty = true
      log.records += records
      log.committed = after
    })
  )

/** fsyncs the log if anything was written since the last one. Never retried: a failure sticks. */
export const sync = (log: LogFile) =>
  guard(
    log,
    Effect.suspend(() => {
      if (!log.dirty || log.handle === undefined) return Effect.void
      log.dirty = false
      return log.handle.file.sync.pipe(orStorageError("fsync", log.files.log))
    })
  )

/** Runs `effect` unless the log already failed; a failure marks the log failed. */
const guard = (log: LogFile, effect: Effect.Effect<void, StorageFailure>): Effect.Effect<void, StorageFailure> =>
  Effect.suspend(() =>
    log.failure !== undefined ? Effect.fail(log.failure) : Effect.tapError(effect, (error) =>
      Effect.sync(() => {
        log.failure = error
      }))
  )

/**
 * Compaction: the state of every record written goes to `snapshot.tmp`, which is fsynced, renamed
 * over `snapshot`, and made durable by fsyncing the folder; only then is the log emptied. A crash
 * before the rename leaves the old snapshot and the whole log; after it, the new snapshot, and a
 * log whose records it already covers (recovery skips them by sequence number).
 */
export const compact = (fs: FileSystem.FileSystem, log: LogFile) =>
  guard(
    log,
    Effect.gen(function*() {
      if (log.handle === undefined && log.committed.sequence === 0) return // never written: nothing to keep
      const file = yield* ensureOpen(fs, log)
      const { snapshot, temp, dir } = log.files
      yield* Effect.scoped(Effect.gen(function*() {
        const out = yield* fs.open(temp, { flag: "w" }).pipe(orStorageError("create", temp))
        for (const chunk of encodeSnapshot(log.committed)) yield* writeOnce(out, chunk, temp)
        yield* out.sync.pipe(orStorageError("fsync", temp))
      }))
      yield* fs.rename(temp, snapshot).pipe(orStorageError("rename", temp))
      yield* syncDirectory(fs, dir)
      yield* file.truncate(0).pipe(orStorageError("truncate", log.files.log))
      yield* file.sync.pipe(orStorageError("fsync", log.files.log))
      log.records = 0
      log.snapshotEntries = HashMap.size(log.committed.entries)
      log.dirty = false
    })
  )

/** Whether dead records outweigh live ones; an emptied store is always compacted, to no log. */
export const needsCompaction = (log: LogFile, deadRatio: number, minDeadRecords: number): boolean => {
  const live = HashMap.size(log.committed.entries)
  if (live === 0) return log.records > 0
  const dead = log.records + log.snapshotEntries - live
  return dead >= minDeadRecords && dead > live * deadRatio
}

/** Syncs what was written and closes the file; the log takes nothing more. */
export const close = (log: LogFile) =>
  Effect.gen(function*() {
    if (log.failure === undefined) {
      yield* sync(log).pipe(
        Effect.catchAll((error) => Effect.logWarning(`${log.files.log}: fsync on close failed: ${error.message}`))
      )
    }
    if (log.handle !== undefined) yield* Scope.close(log.handle.scope, Exit.void)
    log.handle = undefined
    log.failure ??= new StorageError({ operation: "append", path: log.files.log, reason: "the log is closed" })
  })
