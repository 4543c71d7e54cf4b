/**
 * The supervision tree of the key-value store (the tutorial's part 6):
 *
 * ```text
 * kv (Supervisor, rest_for_one)
 * ├── storage     the `Storage` the stores write through
 * ├── registry    store names → running stores (an OTP `Registry`)
 * ├── stores      DynamicSupervisor of stores, started on first use
 * │   └── store:<name> (Supervisor, one_for_one, OTP's intensity) → the store's server
 * └── ...         children added later with `startChild`, e.g. the HTTP server
 * ```
 *
 * With `rest_for_one`, a child restarted takes down and restarts those after it: the stores when
 * the registry goes, everything when storage goes, and a child added last (the HTTP server) with
 * any of them. Add one with `tree.root.startChild(spec)`; it stops first when the tree shuts down.
 * `Storage` itself is built by its Layer outside the tree (its child stands for it in the order).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as DynamicSupervisor from "../otp/DynamicSupervisor.js"
import * as OtpRegistry from "../otp/Registry.js"
import * as Supervisor from "../otp/Supervisor.js"
import { Storage } from "../storage/Storage.js"
import * as Registry from "./Registry.js"

/** The running tree. */
export interface Tree {
  readonly root: Supervisor.Supervisor
  /** The stores, whichever incarnation of the registry and the stores' supervisor runs. */
  readonly stores: Registry.Registry
}

/** Starts the tree in the current scope; closing it stops every store, then the registry. */
export const make = (options: Registry.RegistryOptions = {}): Effect.Effect<Tree, never, Storage | Scope.Scope> =>
  Effect.gen(function*() {
    const storage = yield* Storage
    // Set by the children as they start, so that a restarted child is the one used.
    let names: OtpRegistry.Registry<Registry.Running> | undefined
    let current: Registry.Registry | undefined

    const root = yield* Supervisor.start({
      name: "kv",
      strategy: "rest_for_one",
      children: [
        { id: "storage", start: Effect.succeed({ storage, await: Effect.never }) },
        {
          id: "registry",
          start: Effect.map(OtpRegistry.make<Registry.Running>(), (made) => {
            names = made
            return { await: Effect.never }
          })
        },
        {
          id: "stores",
          shutdown: Duration.infinity,
          start: Effect.gen(function*() {
            const supervisor = yield* DynamicSupervisor.start({ name: "stores" })
            if (names === undefined) return yield* Effect.dieMessage("the registry starts before the stores")
            current = yield* Registry.make(options, names, supervisor)
            return supervisor
          })
        }
      ]
    })
    // A root that gives up leaves nothing to serve: say so loudly.
    yield* root.await.pipe(Effect.tapError((error) => Effect.logError(error.message)), Effect.ignore, Effect.forkScoped)

    const registry = (): Registry.Registry => {
      if (current === undefined) throw new Error("the stores' supervisor is not running")
      return current
    }
    return {
      root,
      stores: {
        lookup: (name) => registry().lookup(name),
        running: Effect.suspend(() => registry().running),
        stop: (name) => Effect.suspend(() => registry().stop(name)),
        restart: (name) => Effect.suspend(() => registry().restart(name))
      }
    }
  })
