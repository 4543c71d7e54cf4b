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
import type { Change } from "./Change.js"
import { emptySnapshot } from "./internal/change.js"
import * as DataDir from "./internal/dataDir.js"
import type { DataDirLocked, DiskFull, StorageError } from "./Errors.js"
import { orStorageError } from "./internal/errors.js"
import { readIfExists } from "./internal/fileStorage.js"
import { decodeAt } from "./internal/record.js"
import { readSnapshot, replayLog } from "./internal/recovery.js"

/**
 * Whole records of a file by the change they hold (a snapshot's entries count as puts).
 *
 * @since 0.2.0
 * @category models
 */
export type RecordKinds = { readonly [K in Change["_tag"]]: number }

/**
 * What was found in one file. `records` counts every whole record (a snapshot's header too);
 * `kinds` (new in 0.2.0) counts them by change.
 *
 * @since 0.1.0
 * @category models
 */
export type FileStatus =
  | { readonly _tag: "Ok"; readonly records: number; readonly kinds: RecordKinds }
  /** The log ends in a partial record, from `offset` on; the next open cuts it off. */
  | {
    readonly _tag: "TornTail"
    readonly records: number
    readonly kinds: RecordKinds
    readonly offset: number
    readonly reason: string
  }
  /** A bad record at `offset` with whole records after it: the store will not open. */
  | { readonly _tag: "Corrupt"; readonly offset: number; readonly reason: string }
  /** A compaction's temporary file or a recovery's probe, left by a crash; the next open deletes it. */
  | { readonly _tag: "Leftover" }

/**
 * One file of one store.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileReport {
  readonly store: string
  readonly file: string
  readonly status: FileStatus
}

/**
 * The findings on a data folder; `ok` when no file is corrupt.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyReport {
  readonly dataDir: string
  readonly stores: number
  readonly files: ReadonlyArray<FileReport>
  readonly ok: boolean
}

/** Counts the whole records of `bytes` before `end` by kind. */
const countKinds = (bytes: Buffer, end: number): RecordKinds => {
  const kinds = { Put: 0, Delete: 0, Clear: 0, Expire: 0, Touch: 0, Atomic: 0 }
  for (let offset = 0; offset < end;) {
    const record = decodeAt(bytes, offset)
    if (typeof record === "string") break
    if (record._tag !== "Snapshot") kinds[record._tag]++
    offset = record.end
  }
  return kinds
}

/**
 * Checks every snapshot and log in `dataDir`, changing nothing.
 *
 * @since 0.1.0
 * @category utils
 */
export const verify = (
  dataDir: string
): Effect.Effect<VerifyReport, StorageError | DiskFull | DataDirLocked, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = DataDir.layout(dataDir)
    yield* DataDir.lock(fs, paths)
    const exists = yield* fs.exists(paths.stores).pipe(orStorageError("stat", paths.stores))
    const entries = exists
      ? yield* fs.readDirectory(paths.stores).pipe(orStorageError("list", paths.stores))
      : []
    const files: Array<FileReport> = []
    let stores = 0
    for (const encoded of entries.sort()) {
      const store = DataDir.decodeName(encoded)
      if (store === undefined) continue
      stores++
      const { log, probe, snapshot, temp } = DataDir.storeFiles(paths, store)
      for (const leftover of [temp, probe]) {
        if (yield* fs.exists(leftover).pipe(orStorageError("stat", leftover))) {
          files.push({ store, file: leftover, status: { _tag: "Leftover" } })
        }
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
            ? { _tag: "Ok", records: HashMap.size(read.right.entries) + 1, kinds: countKinds(snapshotBytes.value, snapshotBytes.value.length) }
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
            ? { _tag: "Ok", records: replay.right.records, kinds: countKinds(logBytes.value, replay.right.end) }
            : {
              _tag: "TornTail",
              records: replay.right.records,
              kinds: countKinds(logBytes.value, replay.right.end),
              ...replay.right.torn
            }
        })
      }
    }
    return { dataDir: paths.root, stores, files, ok: files.every((file) => file.status._tag !== "Corrupt") }
  }))
