/**
 * One store's files as its writer sees them: the open log, what it covers, and the operations
 * on it (write, sync, compact, recover, close). Only the store's writer calls these, so none locks.
 *
 * A write or fsync that fails cuts the log back to the end of its last acknowledged record and
 * fsyncs it, so nothing of a failed batch stays to come back on reopen; the log then refuses
 * every write with that failure until {@link recover} succeeds. If the cut itself fails, it is
 * retried by `recover`, by `close` and, failing those, by the next open of the store.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Snapshot } from "../Change.js"
import { type StoreFiles, syncDirectory } from "./dataDir.js"
import { type DiskFull, orStorageError, StorageError, type StorageFailure } from "./errors.js"
import { encodeSnapshot } from "./record.js"

/** A store's log, open or still to be created. Mutable: its writer owns it. */
export interface LogFile {
  readonly store: string
  readonly files: StoreFiles
  /** The stores folder: synced once when the store's own folder is created. */
  readonly parent: string
  handle: { readonly file: FileSystem.File; readonly scope: Scope.CloseableScope } | undefined
  /** The state the acknowledged records lead to: what a compaction writes. */
  committed: Snapshot
  /** Acknowledged records in the log file. */
  records: number
  /** The log's length up to its last acknowledged record: where a failure cuts it back to. */
  end: number
  /** Written but not yet acknowledged (a batch waiting for its commit). */
  unacknowledged: { readonly bytes: number; readonly records: number; readonly state: Snapshot } | undefined
  /** Entries in the snapshot file. */
  snapshotEntries: number
  /** Written since the last fsync. */
  dirty: boolean
  /** Set once a write or sync failed: the log takes nothing more until recovered. */
  failure: StorageFailure | undefined
  /** The log may hold bytes past `end` that a failure could not cut off yet. */
  cutPending: boolean
  /** Closed with its store: nothing, not even `recover`, opens it again. */
  closed: boolean
}

/** A log that has never been written, for `store`'s files. */
export const make = (store: string, files: StoreFiles, parent: string, recovered: Snapshot): LogFile => ({
  store,
  files,
  parent,
  handle: undefined,
  committed: recovered,
  records: 0,
  end: 0,
  unacknowledged: undefined,
  snapshotEntries: 0,
  dirty: false,
  failure: undefined,
  cutPending: false,
  closed: false
})

/**
 * Opens `path` for appending (`"a+"`: and reading, from its start), in a scope of its own that
 * {@link close} closes.
 */
export const openForAppend = (fs: FileSystem.FileSystem, path: string, flag: "a" | "a+" = "a") =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const file = yield* fs.open(path, { flag }).pipe(
      Scope.extend(scope),
      orStorageError("open", path),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
    return { file, scope }
  })

/** Reads `file` from where it stands to its end, as long as it is now. */
export const readAll = (file: FileSystem.File, path: string): Effect.Effect<Buffer, StorageError | DiskFull> =>
  Effect.gen(function*() {
    const size = Number((yield* file.stat).size)
    const chunks: Array<Buffer> = []
    let read = 0
    while (read < size) {
      const chunk = yield* file.readAlloc(size - read)
      if (Option.isNone(chunk)) break // cut shorter meanwhile
      chunks.push(Buffer.from(chunk.value.buffer, chunk.value.byteOffset, chunk.value.byteLength))
      read += chunk.value.byteLength
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  }).pipe(orStorageError("read", path))

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

/**
 * Writes all of `bytes`, going on after a short write as POSIX allows; the failure of a later
 * write (ENOSPC once the disk is full) is the error. A write that makes no progress is one too.
 */
export const writeAll = (
  file: FileSystem.File,
  bytes: Uint8Array,
  path: string
): Effect.Effect<void, StorageError | DiskFull> =>
  Effect.flatMap(orStorageError("write", path)(file.write(bytes)), (written) => {
    const count = Number(written)
    if (count === bytes.length) return Effect.void
    if (count <= 0) {
      return Effect.fail(new StorageError({ operation: "write", path, reason: `wrote nothing of ${bytes.length} bytes` }))
    }
    return writeAll(file, bytes.subarray(count), path)
  })

/** Appends encoded records, unacknowledged until {@link acknowledge}. On failure the log takes nothing more. */
export const write = (fs: FileSystem.FileSystem, log: LogFile, bytes: Uint8Array, records: number, after: Snapshot) =>
  guard(
    log,
    Effect.gen(function*() {
      const file = yield* ensureOpen(fs, log)
      yield* writeAll(file, bytes, log.files.log)
      log.dirty = true
      const before = log.unacknowledged
      log.unacknowledged = {
        bytes: (before?.bytes ?? 0) + bytes.length,
        records: (before?.records ?? 0) + records,
        state: after
      }
    })
  )

/** Counts what was written as acknowledged: a later failure no longer cuts it off. */
export const acknowledge = (log: LogFile): void => {
  const written = log.unacknowledged
  if (written === undefined) return
  log.end += written.bytes
  log.records += written.records
  log.committed = written.state
  log.unacknowledged = undefined
}

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

/** The log's failure, if it has one, as an `Exit`. */
export const status = (log: LogFile): Exit.Exit<void, StorageFailure> =>
  log.failure === undefined ? Exit.void : Exit.fail(log.failure)

/** Runs `effect` unless the log already failed; a failure fails the log. */
const guard = (log: LogFile, effect: Effect.Effect<void, StorageFailure>): Effect.Effect<void, StorageFailure> =>
  Effect.suspend(() =>
    log.failure !== undefined
      ? Effect.fail(log.failure)
      : Effect.tapError(effect, (error) => fail(log, error))
  )

/**
 * Marks the log failed with `error` and cuts off everything written since the last
 * acknowledgement; if that cut fails it stays pending, for `recover` or `close` to retry.
 */
export const fail = (log: LogFile, error: StorageFailure): Effect.Effect<void> =>
  Effect.suspend(() => {
    log.failure = error
    log.unacknowledged = undefined
    log.cutPending = true
    return cutBack(log).pipe(
      Effect.catchAll((cutError) =>
        Effect.logWarning(`${log.files.log}: could not cut back to ${log.end} bytes after a failure: ${cutError.message}`)
      )
    )
  })

/** Truncates the log to its acknowledged end and fsyncs it, if a cut is pending. */
const cutBack = (log: LogFile) =>
  Effect.suspend(() => {
    const handle = log.handle
    if (!log.cutPending || handle === undefined) {
      log.cutPending = false
      return Effect.void
    }
    return handle.file.truncate(log.end).pipe(
      orStorageError("truncate", log.files.log),
      Effect.zipRight(orStorageError("fsync", log.files.log)(handle.file.sync)),
      Effect.tap(() => {
        log.cutPending = false
        log.dirty = false
      })
    )
  })

/** Bytes the probe writes: one block, enough for the disk to have to find room. */
const probeBytes = 4096

/**
 * Takes a failed log back into use: cuts it back and fsyncs it if that failed before, then
 * checks that the disk takes writes (a probe file written, fsynced and removed in the store's
 * folder). On failure the log stays failed, with the new error.
 */
export const recover = (fs: FileSystem.FileSystem, log: LogFile): Effect.Effect<void, StorageFailure> =>
  Effect.suspend(() => {
    if (log.failure === undefined || log.closed) return log.failure === undefined ? Effect.void : Effect.fail(log.failure)
    const { probe } = log.files
    return Effect.gen(function*() {
      yield* ensureOpen(fs, log)
      yield* cutBack(log)
      yield* Effect.scoped(Effect.gen(function*() {
        const file = yield* fs.open(probe, { flag: "w" }).pipe(orStorageError("create", probe))
        yield* writeAll(file, new Uint8Array(probeBytes), probe)
        yield* file.sync.pipe(orStorageError("fsync", probe))
      }))
      yield* fs.remove(probe).pipe(orStorageError("remove", probe))
      log.failure = undefined
    }).pipe(
      Effect.tapError((error) =>
        Effect.zipRight(
          Effect.ignore(fs.remove(probe, { force: true })),
          Effect.sync(() => {
            log.failure = error
          })
        )
      )
    )
  })

/**
 * Compaction: the state of every acknowledged record goes to `snapshot.tmp`, which is fsynced,
 * renamed over `snapshot`, and made durable by fsyncing the folder; only then is the log emptied.
 * A crash before the rename leaves the old snapshot and the whole log; after it, the new snapshot,
 * and a log whose records it already covers (recovery skips them by sequence number). A failed
 * compaction leaves the log as it was, taking appends: only its temporary file is removed.
 */
export const compact = (fs: FileSystem.FileSystem, log: LogFile): Effect.Effect<void, StorageFailure> =>
  Effect.suspend(() => {
    if (log.failure !== undefined) return Effect.fail(log.failure)
    if (log.handle === undefined && log.committed.sequence === 0) return Effect.void // never written: nothing to keep
    const { snapshot, temp, dir } = log.files
    return Effect.gen(function*() {
      const file = yield* ensureOpen(fs, log)
      yield* Effect.scoped(Effect.gen(function*() {
        const out = yield* fs.open(temp, { flag: "w" }).pipe(orStorageError("create", temp))
        for (const chunk of encodeSnapshot(log.committed)) yield* writeAll(out, chunk, temp)
        yield* out.sync.pipe(orStorageError("fsync", temp))
      })).pipe(Effect.tapError(() => Effect.ignore(fs.remove(temp, { force: true }))))
      yield* fs.rename(temp, snapshot).pipe(orStorageError("rename", temp))
      yield* syncDirectory(fs, dir)
      yield* file.truncate(0).pipe(orStorageError("truncate", log.files.log))
      // The snapshot covers every record: from here the log is empty, even if the fsync fails.
      log.end = 0
      log.records = 0
      log.snapshotEntries = HashMap.size(log.committed.entries)
      yield* file.sync.pipe(orStorageError("fsync", log.files.log))
      log.dirty = false
    })
  })

/** Whether dead records outweigh live ones; an emptied store is always compacted, to no log. */
export const needsCompaction = (log: LogFile, deadRatio: number, minDeadRecords: number): boolean => {
  const live = HashMap.size(log.committed.entries)
  if (live === 0) return log.records > 0
  const dead = log.records + log.snapshotEntries - live
  return dead >= minDeadRecords && dead > live * deadRatio
}

/**
 * Syncs what was written (unless `durable` is false) or retries a pending cut, and closes the
 * file; the log takes nothing more.
 */
export const close = (log: LogFile, durable = true) =>
  Effect.gen(function*() {
    const warn = (what: string) => (error: StorageFailure) =>
      Effect.logWarning(`${log.files.log}: ${what} on close failed: ${error.message}`)
    if (log.failure === undefined && durable) yield* sync(log).pipe(Effect.catchAll(warn("fsync")))
    if (log.cutPending) yield* cutBack(log).pipe(Effect.catchAll(warn("cutting back a failed write")))
    if (log.handle !== undefined) yield* Scope.close(log.handle.scope, Exit.void)
    log.handle = undefined
    log.closed = true
    log.failure ??= new StorageError({ operation: "append", path: log.files.log, reason: "the log is closed" })
  })
