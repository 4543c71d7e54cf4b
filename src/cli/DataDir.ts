/**
 * The data folder the offline tools work on, and the `KV` they open on it: the same layer the
 * server runs on, so the folder's lock keeps them off a folder a server holds.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { KV, KVService } from "../kv/KV.js"
import { isNotFound, type StorageFailure } from "../storage/Errors.js"
import { NoDataDir, NoSuchStore } from "./Errors.js"

/**
 * `--data-dir`, or `KV_DATA_DIR`, default `./data`.
 *
 * @since 0.1.0
 * @category options
 */
export const dataDirOption = Options.text("data-dir").pipe(
  Options.withPseudoName("DIR"),
  Options.withDescription("The data folder. Default: ./data. Environment: KV_DATA_DIR."),
  Options.withFallbackConfig(Config.string("KV_DATA_DIR")),
  Options.withDefault("./data")
)

// The stores load only when a tool opens a data folder, so that the client commands start
// without them (see `bin/effect-kv.ts`).
const kvModule = Effect.promise(() => import("../kv/KV.js"))

/**
 * `KV` on the data folder, for a tool that runs while no server does. It has no deadline: a tool
 * waits for a large store to open, where a server answers `CallTimeout` meanwhile.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKV = (dataDir: string): Layer.Layer<KV, StorageFailure> =>
  Layer.unwrapEffect(Effect.map(kvModule, ({ KV }) => KV.layer({ dataDir, sync: "always", callTimeout: Duration.infinity })))

/**
 * Runs `use` on the `KV` service over `dataDir`, which is created if missing.
 *
 * @since 0.2.0
 * @category utils
 */
export const withKV = <A, E, R>(dataDir: string, use: (kv: KVService) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(kvModule, ({ KV }) => Effect.provide(Effect.flatMap(KV, use), layerKV(dataDir)))

/**
 * Succeeds if `dataDir` is a folder: the tools that read one must not create it by accident.
 *
 * @since 0.1.0
 * @category utils
 */
export const requireDataDir = (dataDir: string): Effect.Effect<void, NoDataDir | PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(dataDir)).pipe(
    Effect.catchIf(isNotFound, () => Effect.fail(new NoDataDir({ dataDir }))),
    Effect.filterOrFail((info) => info.type === "Directory", () => new NoDataDir({ dataDir })),
    Effect.asVoid
  )

/**
 * Runs `use` on the `KV` service over `dataDir`, which must exist.
 *
 * @since 0.1.0
 * @category utils
 */
export const onExistingDataDir = <A, E, R>(dataDir: string, use: (kv: KVService) => Effect.Effect<A, E, R>) =>
  Effect.zipRight(requireDataDir(dataDir), withKV(dataDir, use))

/**
 * An optional `STORE` argument: the tool works on that store only.
 *
 * @since 0.1.0
 * @category options
 */
export const storeArg = Args.text({ name: "STORE" }).pipe(
  Args.withDescription("Only this store. Default: every store of the folder."),
  Args.optional
)

/**
 * The stores a tool works on: the one named, which must hold data, or all of them.
 *
 * @since 0.1.0
 * @category utils
 */
export const chosenStores = (kv: KVService, dataDir: string, store: Option.Option<string>) =>
  Effect.flatMap(kv.stores, (stores) =>
    Option.match(store, {
      onNone: () => Effect.succeed(stores),
      onSome: (name) => stores.includes(name) ? Effect.succeed([name]) : Effect.fail(new NoSuchStore({ store: name, dataDir }))
    }))
