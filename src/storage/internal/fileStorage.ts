/**
 * `Storage` on disk: the data folder of `DataDir`, one log per store written by the writer pool,
 * recovery on open, compaction past a threshold. Built by `Storage.layerFile`.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Path from "node:path"
import type { Change, Snapshot } from "../Change.js"
import { emptySnapshot, lastOf } from "./change.js"
import * as DataDir from "./dataDir.js"
import { isNotFound, orStorageError, StorageError, type StorageFailure } from "./errors.js"
import * as LogFile from "./logFile.js"
import { encodeChanges, encodeSnapshot } from "./record.js"
import { readSnapshot, replayLog } from "./recovery.js"
import type { Storage, StoreLog } from "../Storage.js"
import { appendSpan } from "./tracing.js"
import * as WriterPool from "./writerPool.js"

/** Options of `Storage.layerFile`. */
export interface FileOptions {
  /** The data folder; created if missing. One process holds it at a time. */
  readonly dataDir: string
  /**
   * When a write is acknowledged: `"always"` (default) after an fsync covering it, shared by
   * the writes waiting with it; `"interval"` at once, with an fsync every `syncInterval`;
   * `"none"` at once, leaving it to the operating system.
   */
  readonly sync?: WriterPool.SyncPolicy
  /** How often `"interval"` fsyncs (default 1 second). */
  readonly syncInterval?: Duration.DurationInput
  /** Writer fibers; a store's name is hashed to pick its writer (default 4). */
  readonly writers?: number
  /**
   * Compaction past a threshold: when dead records (overwritten or deleted) number at least
   * `minDeadRecords` (default 1,000) and more than `deadRatio` (default 1) times the live keys.
   */
  readonly compaction?: { readonly deadRatio?: number; readonly minDeadRecords?: number }
  /**
   * Record each writer's batch sizes and fsync latencies as Effect metrics (default true; see
   * `Metrics`). `KV.layer({ metrics: false })` turns these off with its own.
   */
  readonly metrics?: boolean
}

/** Reads a whole file, or `None` if it does not exist. */
export const readIfExists = (fs: FileSystem.FileSystem, path: string) =>
  fs.readFile(path).pipe(
    Effect.map((bytes) => Option.some(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))),
    Effect.catchIf(isNotFound, () => Effect.succeedNone),
    orStorageError("read", path)
  )

const noChanges: ReadonlyArray<Change> = []

/** The size of a snapshot of no entries: a store whose files hold no more holds no data. */
const emptySnapshotBytes = Array.from(encodeSnapshot(emptySnapshot)).reduce((sum, chunk) => sum + chunk.length, 0)

/** Builds the file `Storage` in the scope: takes the folder's lock and starts the writers. */
export const make = (
  options: FileOptions
): Effect.Effect<Context.Tag.Service<Storage>, StorageFailure, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = DataDir.layout(options.dataDir)
    const makeDirectory = (dir: string) =>
      fs.makeDirectory(dir, { recursive: true }).pipe(orStorageError("create folder", dir))
    yield* makeDirectory(paths.root)
    yield* DataDir.lock(fs, paths)
    yield* makeDirectory(paths.stores)
    // A drop renames a store here first; finish any that a crash interrupted.
    yield* fs.remove(paths.trash, { recursive: true, force: true }).pipe(orStorageError("empty", paths.trash))
    yield* makeDirectory(paths.trash)

    const pool = yield* WriterPool.make(fs, {
      writers: options.writers ?? 4,
      sync: options.sync ?? "always",
      syncInterval: options.syncInterval ?? Duration.seconds(1),
      deadRatio: options.compaction?.deadRatio ?? 1,
      minDeadRecords: options.compaction?.minDeadRecords ?? 1000,
      metrics: options.metrics ?? true
    })
    const open = new Map<string, LogFile.LogFile>()
    // Logs closed while a failed batch could not be cut off: the next open cuts it first.
    const pendingCuts = new Map<string, number>()
    let dropped = 0

    const recover = (store: string, history: number) =>
      Effect.gen(function*() {
        yield* DataDir.checkEncodedLength(paths, store)
        const files = DataDir.storeFiles(paths, store)
        const log = LogFile.make(store, files, paths.stores, emptySnapshot)
        // One listing says whether the store has files, and which: a (re)start then touches only
        // those, where a check of the folder, two removes and a read of each file cost a round
        // trip to the disk apiece (half of an empty store's restart).
        const listed = yield* fs.readDirectory(files.dir).pipe(
          Effect.map((names) => new Set(names)),
          Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
          orStorageError("list", files.dir)
        )
        if (listed === undefined) return { log, recent: noChanges, anyExpiry: false }
        const has = (path: string) => listed.has(Path.basename(path))
        if (has(files.temp)) yield* fs.remove(files.temp, { force: true }).pipe(orStorageError("remove", files.temp))
        if (has(files.probe)) yield* fs.remove(files.probe, { force: true }).pipe(orStorageError("remove", files.probe))
        const cut = pendingCuts.get(store)
        if (cut !== undefined) {
          yield* Effect.scoped(Effect.gen(function*() {
            const file = yield* fs.open(files.log, { flag: "r+" }).pipe(orStorageError("open", files.log))
            yield* file.truncate(cut).pipe(orStorageError("truncate", files.log))
            yield* file.sync.pipe(orStorageError("fsync", files.log))
          }))
          pendingCuts.delete(store)
        }
        const snapshotBytes = has(files.snapshot) ? yield* readIfExists(fs, files.snapshot) : Option.none()
        const base: Snapshot & { readonly anyExpiry?: boolean } = Option.isSome(snapshotBytes)
          ? yield* readSnapshot(snapshotBytes.value, files.snapshot)
          : emptySnapshot
        // The log is read through the handle it is then appended with: one open, where reading
        // the file by its path opened and closed it once more (two more round trips to the disk).
        const handle = yield* LogFile.openForAppend(fs, files.log, has(files.log) ? "a+" : "a")
        const replay = yield* Effect.gen(function*() {
          const logBytes = has(files.log) ? yield* LogFile.readAll(handle.file, files.log) : Buffer.alloc(0)
          const replay = yield* replayLog(logBytes, files.log, base, history)
          if (replay.torn !== undefined) {
            yield* Effect.logWarning(
              `${files.log}: torn tail at byte ${replay.torn.offset} (${replay.torn.reason}); cut to ${replay.end} bytes`
            )
            yield* handle.file.truncate(replay.end).pipe(orStorageError("truncate", files.log))
          }
          return replay
        }).pipe(Effect.onError(() => Scope.close(handle.scope, Exit.void)))
        log.committed = replay.state
        log.records = replay.records
        log.end = replay.end
        log.snapshotEntries = HashMap.size(base.entries)
        log.handle = handle
        return { log, recent: replay.recent, anyExpiry: replay.state.anyExpiry }
      })

    const close = (log: LogFile.LogFile, crashed: boolean) =>
      Effect.zipRight(
        pool.close(log, crashed),
        Effect.sync(() => {
          if (log.cutPending) pendingCuts.set(log.store, log.end)
          if (open.get(log.store) === log) open.delete(log.store)
        })
      )

    const append = (log: LogFile.LogFile) => (changes: ReadonlyArray<Change>, after: Snapshot) => {
      if (log.failure !== undefined) return Effect.fail(log.failure)
      const encoded = encodeChanges(changes)
      return Either.isRight(encoded)
        ? pool.append(log, encoded.right, changes.length, after).pipe(appendSpan(log.store, changes.length))
        : Effect.fail(new StorageError({ operation: "append", path: log.files.log, reason: `${encoded.left}; write less at once` }))
    }

    const holdsData = (files: DataDir.StoreFiles) =>
      Effect.gen(function*() {
        const size = (path: string) =>
          fs.stat(path).pipe(
            Effect.map((info) => Number(info.size)),
            Effect.catchIf(isNotFound, () => Effect.succeed(0)),
            orStorageError("stat", path)
          )
        return (yield* size(files.log)) > 0 || (yield* size(files.snapshot)) > emptySnapshotBytes
      })

    const service: Context.Tag.Service<Storage> = {
      open: (store, openOptions) =>
        Effect.map(
          Effect.acquireRelease(
            Effect.tap(recover(store, openOptions?.history ?? 0), ({ log }) => Effect.sync(() => open.set(store, log))),
            // The store's scope closes with its end: a failure other than an interruption is a crash.
            ({ log }, exit) => close(log, Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause))
          ),
          ({ anyExpiry, log, recent }): StoreLog => ({
            recovered: log.committed,
            recent: openOptions?.historyBytes === undefined ? recent : lastOf(recent, recent.length, openOptions.historyBytes),
            anyExpiry,
            append: append(log),
            recover: pool.recover(log),
            compact: pool.compact(log)
          })
        ),
      stores: Effect.gen(function*() {
        const names: Array<string> = []
        for (const encoded of yield* fs.readDirectory(paths.stores).pipe(orStorageError("list", paths.stores))) {
          const name = DataDir.decodeName(encoded)
          if (name === undefined) continue
          const log = open.get(name)
          const holds = log !== undefined
            ? HashMap.size(log.committed.entries) > 0
            : yield* holdsData(DataDir.storeFiles(paths, name))
          if (holds) names.push(name)
        }
        return names.sort()
      }),
      drop: (store) =>
        Effect.gen(function*() {
          const files = DataDir.storeFiles(paths, store)
          if (open.has(store)) {
            return yield* new StorageError({ operation: "drop", path: files.dir, reason: "the store is open; stop it first" })
          }
          if (!(yield* fs.exists(files.dir).pipe(orStorageError("stat", files.dir)))) return
          // One rename takes the whole store away at once; deleting its files comes after.
          const trashed = Path.join(paths.trash, `${Path.basename(files.dir)}.${Date.now()}.${dropped++}`)
          yield* fs.rename(files.dir, trashed).pipe(orStorageError("rename", files.dir))
          pendingCuts.delete(store) // its log is gone with it
          yield* DataDir.syncDirectory(fs, paths.stores)
          yield* fs.remove(trashed, { recursive: true }).pipe(orStorageError("remove", trashed))
        })
    }
    return service
  })
