/**
 * `compact [STORE]`: rewrites the logs of a data folder's stores (or of one) as snapshots.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { chosenStores, dataDirOption, onExistingDataDir, storeArg } from "./DataDir.js"
import { counted, printLine, progress, progressDone } from "./Output.js"

/**
 * `compact [STORE]`: rewrites logs as snapshots, with progress on a terminal.
 *
 * @since 0.1.0
 * @category commands
 */
export const compact = Command.make("compact", {
  dataDir: dataDirOption,
  store: storeArg
}, (args) =>
  onExistingDataDir(args.dataDir, (kv) =>
    Effect.gen(function*() {
      const stores = yield* chosenStores(kv, args.dataDir, args.store)
      for (const [index, store] of stores.entries()) {
        yield* progress(`compacting ${store} (${index + 1} of ${stores.length})`)
        yield* kv.compact(store)
      }
      yield* progressDone()
      yield* printLine(`compacted ${counted(stores.length, "store")}`)
    }))).pipe(
    Command.withDescription("Rewrites each store's log as a snapshot of its keys. No server may hold the folder.")
  )
