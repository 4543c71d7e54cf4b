/**
 * effect-kv as `@effect/experimental`'s `Persistence`: `import { KVPersistence } from
 * "effect-kv/persistence"`. An entry point of its own, so that only an app that imports it loads
 * `@effect/experimental` (an optional peer dependency).
 *
 * @since 0.2.0
 */

/**
 * `BackingPersistence` and `ResultPersistence` on `KV`: one store per `storeId`, time to live as
 * the keys' expiry.
 *
 * @since 0.2.0
 * @category modules
 */
export * as KVPersistence from "./kv/KVPersistence.js"
