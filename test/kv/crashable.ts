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
        open: (store: string, options?: Storage.OpenOptions) =>
          Effect.gen(function*() {
            const log = yield* storage.open(store, options)
            control.openNow++
            control.opened++
            yield* Effect.addFinalizer(() => Effect.sync(() => control.openNow--))
            return {
              ...log,
              append: (changes, after) =>
                Effect.suspend(() => {
                  if (control.crashNext.delete(store) || control.failing.has(store)) {
                    return Effect.dieMessage(`injected crash of ${store}`)
                  }
                  const gate = control.gate
                  return gate === undefined
                    ? log.append(changes, after)
                    : Effect.zipRight(Deferred.await(gate), log.append(changes, after))
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
