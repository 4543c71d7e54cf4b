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
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { KV, type KVService } from "../kv/KV.js"
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

/**
 * `KV` on the data folder, for a tool that runs while no server does. It has no deadline: a tool
 * waits for a large store to open, where a server answers `CallTimeout` meanwhile.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKV = (dataDir: string): Layer.Layer<KV, StorageFailure> =>
  KV.layer({ dataDir, sync: "always", callTimeout: Duration.infinity })

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
 * Runs `effect` on `KV` over `dataDir`, which must exist.
 *
 * @since 0.1.0
 * @category utils
 */
export const onExistingDataDir = (dataDir: string) => <A, E>(effect: Effect.Effect<A, E, KV>) =>
  Effect.zipRight(requireDataDir(dataDir), Effect.provide(effect, layerKV(dataDir)))

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
