/**
 * Offline tools on a data folder that no server holds (the CLI's `verify`).
 *
 * {@link verify} reads every store's snapshot and log and reports, per file, whether it is whole,
 * ends in a torn tail (cut off on the next open, losing only unacknowledged writes) or is
 * corrupt (the store will not open). It changes nothing, and takes the folder's lock while it
 * reads, so it fails with `DataDirLocked` while a server runs.
 *
 * Compaction, export and import need no tool of their own: open `KV.layer({ dataDir })` and use
 * `KV.compact`, reads and writes.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { emptySnapshot } from "./internal/change.js"
import * as DataDir from "./internal/dataDir.js"
import type { DataDirLocked, StorageError } from "./Errors.js"
import { readIfExists } from "./internal/fileStorage.js"
import { readSnapshot, replayLog } from "./internal/recovery.js"

/** What was found in one file. */
export type FileStatus =
  | { readonly _tag: "Ok"; readonly records: number }
  /** The log ends in a partial record, from `offset` on; the next open cuts it off. */
  | { readonly _tag: "TornTail"; readonly records: number; readonly offset: number; readonly reason: string }
  /** A bad record at `offset` with whole records after it: the store will not open. */
  | { readonly _tag: "Corrupt"; readonly offset: number; readonly reason: string }
  /** A compaction's temporary file, left by a crash; the next open deletes it. */
  | { readonly _tag: "Leftover" }

/** One file of one store. */
export interface FileReport {
  readonly store: string
  readonly file: string
  readonly status: FileStatus
}

/** The findings on a data folder; `ok` when no file is corrupt. */
export interface VerifyReport {
  readonly dataDir: string
  readonly stores: number
  readonly files: ReadonlyArray<FileReport>
  readonly ok: boolean
}

/** Checks every snapshot and log in `dataDir`, changing nothing. */
export const verify = (
  dataDir: string
): Effect.Effect<VerifyReport, StorageError | DataDirLocked, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = DataDir.layout(dataDir)
    yield* DataDir.lock(fs, paths)
    const exists = yield* fs.exists(paths.stores).pipe(DataDir.orStorageError("stat", paths.stores))
    const entries = exists
      ? yield* fs.readDirectory(paths.stores).pipe(DataDir.orStorageError("list", paths.stores))
      : []
    const files: Array<FileReport> = []
    let stores = 0
    for (const encoded of entries.sort()) {
      const store = DataDir.decodeName(encoded)
      if (store === undefined) continue
      stores++
      const { log, snapshot, temp } = DataDir.storeFiles(paths, store)
      if (yield* fs.exists(temp).pipe(DataDir.orStorageError("stat", temp))) {
        files.push({ store, file: temp, status: { _tag: "Leftover" } })
      }
      // A corrupt snapshot is reported; the log is then still checked on its own.
      let base = emptySnapshot
      const snapshotBytes = yield* readIfExists(fs, snapshot)
      if (Option.isSome(snapshotBytes)) {
        const read = readSnapshot(snapshotBytes.value, snapshot)
        if (Either.isRight(read)) base = read.right
        files.push({
          store,
          file: snapshot,
          status: Either.isRight(read)
            ? { _tag: "Ok", records: HashMap.size(read.right.entries) + 1 }
            : { _tag: "Corrupt", offset: read.left.offset, reason: read.left.reason }
        })
      }
      const logBytes = yield* readIfExists(fs, log)
      if (Option.isSome(logBytes)) {
        const replay = replayLog(logBytes.value, log, base)
        files.push({
          store,
          file: log,
          status: Either.isLeft(replay)
            ? { _tag: "Corrupt", offset: replay.left.offset, reason: replay.left.reason }
            : replay.right.torn === undefined
            ? { _tag: "Ok", records: replay.right.records }
            : { _tag: "TornTail", records: replay.right.records, ...replay.right.torn }
        })
      }
    }
    return { dataDir: paths.root, stores, files, ok: files.every((file) => file.status._tag !== "Corrupt") }
  }))
