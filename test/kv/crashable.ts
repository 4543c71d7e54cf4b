/**
 * A test double of the storage dependency, for the tree's and the stores' tests: storage whose
 * appends can be made to die, so that a store's handler really crashes, and which counts the logs
 * open now and ever; and a process of the storage (as a writer is) that can be made to die, so
 * that the tree's `storage` child really ends.
 */
import { Deferred, Effect, Layer } from "effect"
import { KV, type KVOptions } from "../../src/kv/KV.js"
import * as Storage from "../../src/storage/Storage.js"

export interface Control {
  /** Stores whose next append dies. */
  readonly crashNext: Set<string>
  /** Stores whose every append dies. */
  readonly failing: Set<string>
  /** When set, appends wait for it: a write held in flight. */
  gate: Deferred.Deferred<void> | undefined
  /** When set, completed as an append starts waiting for `gate`. */
  entered: Deferred.Deferred<void> | undefined
  /** When set, opening a log waits for it: a store slow to start. */
  opening: Deferred.Deferred<void> | undefined
  /** When set, closing a log waits for it: a store slow to stop. */
  closing: Deferred.Deferred<void> | undefined
  openNow: number
  opened: number
  /** How many times the storage was built. */
  storageBuilds: number
  /** Completing it makes the process of the storage built last die. */
  killStorage: Deferred.Deferred<void> | undefined
}

export const makeControl = (): Control => ({
  crashNext: new Set(),
  failing: new Set(),
  gate: undefined,
  entered: undefined,
  opening: undefined,
  closing: undefined,
  openNow: 0,
  opened: 0,
  storageBuilds: 0,
  killStorage: undefined
})

/**
 * The Storage in context, its appends crashable and its logs counted, with a process that can die.
 * Provide the inner Storage outside `KV.layerFrom` to keep it across builds (memory), or inside to
 * build it again with each (file).
 */
export const crashable = (control: Control): Layer.Layer<Storage.Storage, never, Storage.Storage> =>
  Layer.merge(
    Layer.effect(
      Storage.Storage,
      Effect.map(Storage.Storage, (storage) => ({
        ...storage,
        open: (store: string) =>
          Effect.gen(function*() {
            if (control.opening !== undefined) yield* Deferred.await(control.opening)
            const log = yield* storage.open(store)
            control.openNow++
            control.opened++
            // Runs before the log closes (finalizers run last first).
            yield* Effect.addFinalizer(() =>
              Effect.zipRight(
                control.closing === undefined ? Effect.void : Deferred.await(control.closing),
                Effect.sync(() => control.openNow--)
              )
            )
            return {
              ...log,
              append: (changes, after) =>
                Effect.suspend(() => {
                  if (control.crashNext.delete(store) || control.failing.has(store)) {
                    return Effect.dieMessage(`injected crash of ${store}`)
                  }
                  const gate = control.gate
                  if (gate === undefined) return log.append(changes, after)
                  const entered = control.entered === undefined ? Effect.void : Deferred.succeed(control.entered, undefined)
                  return Effect.zipRight(entered, Effect.zipRight(Deferred.await(gate), log.append(changes, after)))
                })
            } satisfies Storage.StoreLog
          })
      }))
    ),
    Layer.scopedDiscard(Effect.gen(function*() {
      control.storageBuilds++
      const kill = yield* Deferred.make<void>()
      control.killStorage = kill
      yield* Effect.forkScoped(Effect.zipRight(Deferred.await(kill), Effect.dieMessage("injected crash of a writer")))
    }))
  )

/** `KV` on `control`'s storage over memory storage, which outlives the tree's builds of it. */
export const kvWith = (control: Control, options: KVOptions = {}) =>
  KV.layerFrom(crashable(control), options).pipe(Layer.provide(Storage.layerMemory))
