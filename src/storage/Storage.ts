/**
 * The `Storage` service: where a store's changes go and where its state comes back from.
 *
 * A store opens its log once ({@link Storage.open}), gets back the state it had, and from then
 * on appends each batch of changes together with the state they lead to. {@link layerFile}
 * writes an append-only log per store in a data folder (see `DataDir` for its layout);
 * {@link layerMemory} keeps each store's last state in memory, so a restarted store comes back
 * with its data within one process.
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
import { emptySnapshot } from "./internal/change.js"
import type { StorageFailure } from "./Errors.js"
import * as FileStorage from "./internal/fileStorage.js"

export type { FileOptions } from "./internal/fileStorage.js"
export type { SyncPolicy } from "./internal/writerPool.js"

/** One store's open log. Closing the scope it was opened in closes it. */
export interface StoreLog {
  /** The state recovered when the log was opened. */
  readonly recovered: Snapshot
  /**
   * Records a batch of changes; succeeds once they are as durable as the sync policy promises.
   * `after` is the store's state with the changes applied, from which a snapshot may be written.
   * On failure nothing of the batch may be acknowledged, and the log must be reopened.
   */
  readonly append: (changes: ReadonlyArray<Change>, after: Snapshot) => Effect.Effect<void, StorageFailure>
  /** Rewrites the log as a snapshot of the last state appended (compaction on demand). */
  readonly compact: Effect.Effect<void, StorageFailure>
}

/** Where stores keep their changes. */
export class Storage extends Context.Tag("effect-kv/Storage")<Storage, {
  /** Opens a store's log, recovering its state. The name is already validated. */
  readonly open: (store: string) => Effect.Effect<StoreLog, StorageFailure, Scope.Scope>
  /** The names of the stores that hold data, sorted. */
  readonly stores: Effect.Effect<ReadonlyArray<string>, StorageFailure>
  /** Deletes a store's data. The store must not be open. */
  readonly drop: (store: string) => Effect.Effect<void, StorageFailure>
}>() {}

/** Storage that keeps each store's last state in memory, for tests and caches. */
export const layerMemory: Layer.Layer<Storage> = Layer.sync(Storage, () => {
  const states = new Map<string, Snapshot>()
  return {
    open: (store) =>
      Effect.sync((): StoreLog => ({
        recovered: states.get(store) ?? emptySnapshot,
        append: (_changes, after) => Effect.sync(() => void states.set(store, after)),
        compact: Effect.void
      })),
    stores: Effect.sync(() =>
      Array.from(states).filter(([, state]) => HashMap.size(state.entries) > 0).map(([name]) => name).sort()
    ),
    drop: (store) => Effect.sync(() => void states.delete(store))
  }
})

/**
 * Storage in a data folder, on the `FileSystem` provided (`NodeFileSystem.layer` on Node): fails
 * with `DataDirLocked` if another process holds the folder. See `FileOptions` for the sync
 * policies, writers and compaction.
 */
export const layerFile = (options: FileStorage.FileOptions): Layer.Layer<Storage, StorageFailure, FileSystem.FileSystem> =>
  Layer.scoped(Storage, FileStorage.make(options))
