/**
 * The registry of named stores (the tutorial's part 2 "cache"): a store is started on first
 * use, and concurrent first uses of one name start exactly one store. A store that ends (stopped,
 * or crashed) frees its name, so the next use starts it again from its log.
 *
 * Each store runs in a scope of its own, a child of the registry's: stopping a store closes its
 * scope (its server, then its log), and closing the registry stops every store.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import type { StorageFailure } from "../storage/Errors.js"
import type { Storage } from "../storage/Storage.js"
import * as Store from "./Store.js"

/** Running stores by name. */
export interface Registry {
  /** The running store of that name, started (and recovered) first if need be. */
  readonly lookup: (name: string) => Effect.Effect<Store.Store, StorageFailure>
  /** Names of the running stores, sorted. */
  readonly running: () => ReadonlyArray<string>
  /** Stops the store if it runs, and waits until its log is closed. */
  readonly stop: (name: string) => Effect.Effect<void>
}

interface Running {
  readonly store: Store.Store
  readonly scope: Scope.CloseableScope
}

/** Makes a registry whose stores live in the current scope. */
export const make = (options: Store.StoreOptions = {}): Effect.Effect<Registry, never, Storage | Scope.Scope> =>
  Effect.gen(function*() {
    const registryScope = yield* Effect.scope
    const context = yield* Effect.context<Storage>()
    const running = new Map<string, Running>()
    const starting = new Map<string, Deferred.Deferred<Store.Store, StorageFailure>>()

    const release = (name: string, entry: Running) =>
      Effect.suspend(() => {
        if (running.get(name) === entry) running.delete(name)
        return Scope.close(entry.scope, Exit.void)
      })

    const start = (name: string) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const pending = starting.get(name)
          if (pending !== undefined) return yield* restore(Deferred.await(pending))
          const ready = Deferred.unsafeMake<Store.Store, StorageFailure>(FiberId.none)
          starting.set(name, ready)
          // A store that ended but whose name is not yet freed: close its log before reopening.
          const stale = running.get(name)
          if (stale !== undefined) yield* release(name, stale)
          const scope = yield* Scope.fork(registryScope, ExecutionStrategy.sequential)
          const exit = yield* Store.start(name, options).pipe(
            Scope.extend(scope),
            Effect.provide(context),
            Effect.exit
          )
          starting.delete(name)
          Deferred.unsafeDone(ready, exit)
          if (Exit.isFailure(exit)) {
            yield* Scope.close(scope, exit)
            return yield* exit
          }
          const entry: Running = { store: exit.value, scope }
          running.set(name, entry)
          // The name frees itself when the server ends, however it ends.
          yield* entry.store.server.await.pipe(
            Effect.exit,
            Effect.zipRight(release(name, entry)),
            Effect.forkIn(registryScope)
          )
          return entry.store
        })
      )

    return {
      lookup: (name) =>
        Effect.suspend(() => {
          const entry = running.get(name)
          return entry !== undefined && entry.store.server.isRunning() ? Effect.succeed(entry.store) : start(name)
        }),
      running: () => Array.from(running.keys()).sort(),
      stop: (name) =>
        Effect.suspend(() => {
          const entry = running.get(name)
          return entry === undefined ? Effect.void : release(name, entry)
        })
    }
  })
