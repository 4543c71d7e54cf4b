/**
 * The supervision tree of the key-value store (the tutorial's part 6):
 *
 * ```text
 * kv (Supervisor, rest_for_one)
 * ├── storage     the Storage the stores write through, built here from its Layer
 * ├── stores      DynamicSupervisor of stores, each started on first use (see `Stores`)
 * │   └── store:<name> (Supervisor, one_for_one, OTP's intensity) → the store's server
 * └── ...         children added later with `startChild`, e.g. the HTTP server
 * ```
 *
 * Each child is started after, and with, the ones before it; when one ends, `rest_for_one` stops
 * those after it (last first) and starts it and them again, in order:
 *
 * - **storage** ends when a fiber that its Layer started fails: for file storage, a writer.
 *   The Storage is built again (file storage takes its folder's lock again and starts new
 *   writers), the stores reopen their logs from it on next use, and the children added later
 *   start again. Storage that runs no fiber (memory storage, or a Storage given to
 *   `KV.layerWith`) has nothing that can end.
 * - **stores** ends when its dynamic supervisor gives up. The stores are started again on next
 *   use, from their logs, and the children added later start again; storage does not notice.
 *   Meanwhile a call that needs a store not running fails at once with `ServerStopped`.
 * - **store:<name>** is restarted by its own supervisor, and given up on past its intensity;
 *   no other store notices (see `Stores`).
 * - a child added later restarts alone, being last; several restart as `rest_for_one` says.
 *
 * Store names are the tree's own table (an OTP `Registry`), not a child: a `Map` runs nothing
 * that could end, and each store takes its name as it starts and frees it as it ends, so the table
 * holds exactly the running stores whichever incarnation of `stores` runs them. Reads find a store
 * there with one `Map` lookup ({@link Tree.stores}). The rest finds the current children: `stores`
 * starts on the storage that runs, and callers reach the `stores` that runs, registered by name.
 *
 * Add a child with `tree.root.startChild(spec)`; it stops first when the tree shuts down, and
 * storage is released last, once nothing writes through it.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as OtpRegistry from "../otp/Registry.js"
import { ServerStopped } from "../otp/Server.js"
import * as Supervisor from "../otp/Supervisor.js"
import { Storage } from "../storage/Storage.js"
import * as LayerChild from "./internal/layerChild.js"
import * as Registry from "./Registry.js"
import * as Stores from "./Stores.js"

/**
 * The running tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tree {
  readonly root: Supervisor.Supervisor
  /** The stores by name, whichever incarnation of the `stores` child runs them. */
  readonly stores: Registry.Registry
  /** The Storage that the `storage` child runs now. */
  readonly storage: Effect.Effect<Context.Tag.Service<Storage>>
}

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export type TreeOptions = Stores.StoresOptions

/**
 * Starts the tree in the current scope, its `storage` child built from `storage`: fails if the
 * first build fails. Closing the scope stops the children added later, then every store, then
 * releases the storage.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  storage: Layer.Layer<Storage, E, R>,
  options: TreeOptions = {}
): Effect.Effect<Tree, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    // Made before the root, so released after it has stopped every child.
    const storageChild = yield* LayerChild.make(Storage, storage)
    const names = yield* OtpRegistry.make<Stores.Running>()
    const storesChild = yield* OtpRegistry.make<Stores.Stores>()

    const root = yield* Supervisor.start({
      name: "kv",
      strategy: "rest_for_one",
      children: [
        { id: "storage", start: storageChild.start },
        {
          id: "stores",
          shutdown: Duration.infinity,
          start: OtpRegistry.via(
            storesChild,
            "stores",
            Effect.flatMap(storageChild.current, (current) =>
              Stores.start(options, names).pipe(Effect.provideService(Storage, current)))
          ).pipe(Effect.catchTag("AlreadyRegistered", Effect.die)) // freed as the previous one stopped
        }
      ]
    })
    // A root that gives up leaves nothing to serve: say so loudly.
    yield* root.await.pipe(Effect.tapError((error) => Effect.logError(error.message)), Effect.ignore, Effect.forkScoped)

    const currentStores = Effect.suspend(() => {
      const stores = storesChild.unsafeLookup("stores")
      return stores === undefined
        ? Effect.fail(new ServerStopped({ server: "stores", reason: "the tree is restarting it", taken: false }))
        : Effect.succeed(stores)
    })
    return { root, stores: Registry.make(names, currentStores), storage: storageChild.current }
  })
