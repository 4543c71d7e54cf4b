/**
 * The `Storage` service: where a store's changes go and where its state comes back from.
 *
 * A store opens its log once ({@link Storage.open}), gets back the state it had (and, if it asks,
 * its last changes), and from then on appends each batch of changes together with the state they
 * lead to. {@link layerFile} writes an append-only log per store in a data folder (see `DataDir`
 * for its layout); {@link layerMemory} keeps each store's last state in memory, so a restarted
 * store comes back with its data within one process.
 *
 * A failed append leaves nothing of its batch in the log, and the log then refuses appends with
 * that error until {@link StoreLog.recover} succeeds: a storage fault is data, never a defect.
 *
 * For tools working on a data folder that no server holds, `Verify.verify(dataDir)` checks every
 * log and snapshot; compaction, export and import go through `KV.layer` (`KV.compact`, reads,
 * writes).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Change, Snapshot } from "./Change.js"
import type { StorageFailure } from "./Errors.js"
import { emptySnapshot, lastOf, weight } from "./internal/change.js"
import * as FileStorage from "./internal/fileStorage.js"
import { appendSpan } from "./internal/tracing.js"

/**
 * Options of `Storage.layerFile`: the data folder, the sync policy, the writers, compaction.
 *
 * @since 0.1.0
 * @category models
 */
export type FileOptions = FileStorage.FileOptions

/**
 * When an acknowledged write is on disk: `"always"`, `"interval"` or `"none"` (see `FileOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export type { SyncPolicy } from "./internal/writerPool.js"

/**
 * One store's open log. Closing the scope it was opened in closes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreLog {
  /** The state recovered when the log was opened. */
  readonly recovered: Snapshot
  /**
   * The last changes after the snapshot (as many as `OpenOptions.history` asked for, default
   * none), oldest first, values parsed: seeds a store's watch history after a reopen.
   *
   * @since 0.2.0
   */
  readonly recent: ReadonlyArray<Change>
  /**
   * Whether an entry of `recovered` may have a deadline. `false` when the storage knows that none
   * has one, so that the store need not walk every key looking for them (half a second at 1M
   * keys); absent: it may.
   *
   * @since 0.2.0
   */
  readonly anyExpiry?: boolean
  /**
   * Records a batch of changes; succeeds once they are as durable as the sync policy promises.
   * `after` is the store's state with the changes applied, from which a snapshot may be written.
   * On failure nothing of the batch is acknowledged and nothing of it stays in the log (it is
   * cut back to the end of the last acknowledged batch); the log then refuses appends at once
   * with that same error until {@link StoreLog.recover} succeeds. A failure is never a defect.
   */
  readonly append: (changes: ReadonlyArray<Change>, after: Snapshot) => Effect.Effect<void, StorageFailure>
  /**
   * Takes a failed log back: cuts it back and fsyncs it (again, if that failed before), and checks
   * that the disk takes writes; then appends are taken again. Succeeds at once on a healthy log;
   * on failure the log keeps refusing appends, with the new error.
   *
   * @since 0.2.0
   */
  readonly recover: Effect.Effect<void, StorageFailure>
  /** Rewrites the log as a snapshot of the last state appended (compaction on demand). */
  readonly compact: Effect.Effect<void, StorageFailure>
}

/**
 * Options of {@link Storage.open}.
 *
 * @since 0.2.0
 * @category models
 */
export interface OpenOptions {
  /** How many of the last changes after the snapshot to return as `recent` (default 0: none, at no cost). */
  readonly history?: number
  /**
   * How much those changes may weigh together (`Change.weight`; default: no bound); the oldest go
   * first past it. Storage that keeps the changes in memory keeps no more.
   *
   * @since 0.2.0
   */
  readonly historyBytes?: number
}

/**
 * Where stores keep their changes.
 *
 * @since 0.1.0
 * @category models
 */
export class Storage extends Context.Tag("effect-kv/Storage")<Storage, {
  /** Opens a store's log, recovering its state. The name is already validated. */
  readonly open: (store: string, options?: OpenOptions) => Effect.Effect<StoreLog, StorageFailure, Scope.Scope>
  /** The names of the stores that hold data, sorted. */
  readonly stores: Effect.Effect<ReadonlyArray<string>, StorageFailure>
  /** Deletes a store's data. The store must not be open. */
  readonly drop: (store: string) => Effect.Effect<void, StorageFailure>
}>() {}

/**
 * A store kept by `layerMemory`: its last state and its last changes, as many and as heavy as any
 * open asked for.
 */
interface MemoryStore {
  state: Snapshot
  recent: Array<Change>
  /** What `recent` weighs (`Change.weight`). */
  weight: number
  keep: number
  keepBytes: number
}

/**
 * Storage that keeps each store's last state in memory, for tests and caches. `recent` comes from
 * a list of each store's last changes, as long as the largest `history` an open asked for;
 * `compact` empties it, as a file log's compaction leaves no changes after its snapshot.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Storage> = Layer.sync(Storage, () => {
  const stores = new Map<string, MemoryStore>()
  return {
    open: (store, options) =>
      Effect.sync((): StoreLog => {
        const history = options?.history ?? 0
        const historyBytes = options?.historyBytes ?? Number.POSITIVE_INFINITY
        let memory = stores.get(store)
        if (memory === undefined) {
          memory = { state: emptySnapshot, recent: [], weight: 0, keep: 0, keepBytes: 0 }
          stores.set(store, memory)
        }
        memory.keep = Math.max(memory.keep, history)
        if (history > 0) memory.keepBytes = Math.max(memory.keepBytes, historyBytes)
        const kept = memory
        return {
          recovered: kept.state,
          recent: history === 0 ? [] : lastOf(kept.recent, history, historyBytes),
          append: (changes, after) =>
            Effect.sync(() => {
              kept.state = after
              if (kept.keep === 0) return
              for (const change of changes) {
                kept.recent.push(change)
                kept.weight += weight(change)
              }
              // Trimmed in steps, not per change: the list stays under twice its bounds.
              if (kept.recent.length >= 2 * kept.keep || kept.weight >= 2 * kept.keepBytes) {
                kept.recent = lastOf(kept.recent, kept.keep, kept.keepBytes)
                kept.weight = 0
                for (const change of kept.recent) kept.weight += weight(change)
              }
            }).pipe(appendSpan(store, changes.length)),
          recover: Effect.void,
          compact: Effect.sync(() => {
            kept.recent = []
            kept.weight = 0
          })
        }
      }),
    stores: Effect.sync(() =>
      Array.from(stores).filter(([, memory]) => HashMap.size(memory.state.entries) > 0).map(([name]) => name).sort()
    ),
    drop: (store) => Effect.sync(() => void stores.delete(store))
  }
})

/**
 * Storage in a data folder, on the `FileSystem` provided (`NodeFileSystem.layer` on Node): fails
 * with `DataDirLocked` if another process holds the folder. See `FileOptions` for the sync
 * policies, writers and compaction.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFile = (options: FileStorage.FileOptions): Layer.Layer<Storage, StorageFailure, FileSystem.FileSystem> =>
  Layer.scoped(Storage, FileStorage.make(options))
