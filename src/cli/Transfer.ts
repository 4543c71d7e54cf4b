/**
 * `export` and `import`: a data folder's stores as JSON lines, `{"store":..,"key":..,"value":..}`
 * and `"expiresAt"` (epoch milliseconds) for a key that expires, read and written through `KV` on
 * the folder; `export --url` reads the same lines from a running server.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { exportLine } from "../http/ExportLine.js"
import type { KVService } from "../kv/KV.js"
import { chosenStores, dataDirOption, onExistingDataDir, storeArg, withKV } from "./DataDir.js"
import * as Client from "./Client.js"
import { InvalidImportLine, NoSuchStore } from "./Errors.js"
import { decodeJson, reasonOf } from "./Json.js"
import { counted, printLine, progress, progressDone } from "./Output.js"
import * as Stdin from "./Stdin.js"

/**
 * One line of an export: `expiresAt` (epoch milliseconds, as the server's export and `getEntry`
 * give it) only for a key that expires.
 *
 * @since 0.1.0
 * @category models
 */
export const Line = Schema.Struct({
  store: Schema.String,
  key: Schema.String,
  value: Schema.Unknown,
  /** @since 0.2.0 */
  expiresAt: Schema.optionalWith(
    // One message for a string and for an Infinity alike (`1e400` parses as one).
    Schema.Finite.annotations({
      message: () => ({ message: "must be a deadline in epoch milliseconds, a finite number", override: true })
    }),
    { exact: true }
  )
})

// A line of the server's export with its store in front: `{"key",...}` becomes `{"store","key",...}`,
// so that both exports write one format, the server's, and nothing is parsed.
const withStore = (store: string) => {
  const prefix = `{"store":${JSON.stringify(store)},`
  return (line: string) => prefix + line.slice(1)
}

// Progress of an export: one line on a terminal, only when the lines go elsewhere.
const exported = (count: number) => progress(`exported ${count} keys`, { printsResults: true })

/**
 * The stores of the server at `connection` (or the one named, which must hold data) as export
 * lines, each store read whole at one version (`GET /stores/{store}/export`) while the server runs.
 */
const exportFromServer = (connection: Client.Connection, store: Option.Option<string>) =>
  Effect.gen(function*() {
    const held = yield* Effect.flatMap(Client.ServerClient, (client) => client.stores)
    const stores = Option.match(store, {
      onNone: () => Effect.succeed(held),
      onSome: (name) =>
        held.includes(name) ? Effect.succeed([name]) : Effect.fail(new NoSuchStore({ store: name, dataDir: connection.url }))
    })
    let count = 0
    for (const name of yield* stores) {
      const line = withStore(name)
      yield* Client.getLines(connection, `/stores/${encodeURIComponent(name)}/export`).pipe(
        Stream.filter((text) => text.startsWith("{")),
        Stream.runForEach((text) =>
          Effect.zipRight(printLine(line(text)), count++ % 1000 === 0 ? exported(count) : Effect.void)
        )
      )
    }
    yield* exported(count)
    yield* progressDone({ printsResults: true })
  }).pipe(Effect.provide(Layer.merge(Client.layer(connection), NodeHttpClient.layer)))

/**
 * `--url`: export from a running server instead of a data folder.
 */
const exportUrl = Options.text("url").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(
    "Export from the server at this URL while it runs (a consistent copy of each store at one version), " +
      "instead of from a data folder. Default: none (the data folder)."
  ),
  Options.optional
)

/**
 * `export [STORE]`: the keys of a data folder, or of a running server (`--url`), as JSON lines on
 * stdout.
 *
 * @since 0.1.0
 * @category commands
 */
export const exportCommand = Command.make("export", {
  dataDir: dataDirOption,
  store: storeArg,
  url: exportUrl,
  token: Client.connectionOptions.token
}, (args): Effect.Effect<void, ExportError, FileSystem.FileSystem> =>
  Option.match(args.url, {
    onNone: () => exportFromDataDir(args.dataDir, args.store),
    onSome: (url) => exportFromServer({ url, token: args.token }, args.store)
  })).pipe(
    Command.withDescription(
      "Writes every key of the data folder (or of STORE) to stdout, one JSON object a line: {\"store\",\"key\",\"value\"} " +
        "and \"expiresAt\" (epoch ms) for a key that expires. No server may hold the folder; with --url, exports from " +
        "that server while it runs."
    )
  )

type ExportError =
  | Effect.Effect.Error<ReturnType<typeof exportFromServer>>
  | Effect.Effect.Error<ReturnType<typeof exportFromDataDir>>

// Lines of an offline export written at once, and between two progress lines.
const pageSize = 1000

/**
 * The stores of the data folder (or the one named) as export lines, each store read as the
 * server's export reads it (`exportStore`: at one version, deadlines included) and written a page
 * at a time: the lines of one page are all that is held.
 */
const exportFromDataDir = (dataDir: string, store: Option.Option<string>) =>
  onExistingDataDir(dataDir, (kv) =>
    Effect.gen(function*() {
      let count = 0
      for (const name of yield* chosenStores(kv, dataDir, store)) {
        const line = withStore(name)
        const { entries } = yield* kv.exportStore(name)
        yield* Stream.fromIterable(entries).pipe(
          Stream.rechunk(pageSize),
          Stream.runForEachChunk((page) => {
            count += page.length
            // Each line ends in a newline; the last one's is printLine's.
            const text = Chunk.join(Chunk.map(page, (entry) => line(exportLine(entry))), "")
            return Effect.zipRight(printLine(text.slice(0, -1)), exported(count))
          })
        )
      }
      yield* progressDone({ printsResults: true })
    }))

const decodeLine = decodeJson(Line)

type NumberedLine = typeof Line.Type & { readonly number: number }

// Lines go in groups: a group's puts run at once, keeping only a key's last line in the group so
// that no two puts of one key race.
const groupSize = 512

/**
 * A group's lines to put: those whose deadline is still ahead at `now` (or that have none), a
 * key's last one only. A line past its deadline is left out before that, as if it were not
 * there: Redis `RESTORE ... ABSTTL` does not create a key whose deadline has passed.
 */
const linesToPut = (group: Iterable<NumberedLine>, now: number) => {
  const lastOfKey = new Map<string, NumberedLine>()
  const put: Array<NumberedLine> = []
  let expired = 0
  for (const line of group) {
    if (line.expiresAt !== undefined && line.expiresAt <= now) expired++
    else {
      lastOfKey.set(JSON.stringify([line.store, line.key]), line)
      put.push(line)
    }
  }
  return { lastOfKey, put, expired }
}

// Puts a group's lines; fails with the first line, by number, that the store refused. A deadline
// goes in as it was read (`expiresAt`, not a ttl from now), so the restored key expires when the
// exported one would have; one that passes between the check above and the put leaves the key
// gone at once.
const putGroup = (kv: KVService, lastOfKey: ReadonlyMap<string, NumberedLine>) =>
  Effect.forEach(
    lastOfKey.values(),
    (line) =>
      kv.put(line.store, line.key, line.value, line.expiresAt === undefined ? undefined : { expiresAt: line.expiresAt }).pipe(
        Effect.mapError((error) => new InvalidImportLine({ line: line.number, reason: error.message })),
        Effect.flip,
        Effect.option
      ),
    { concurrency: "unbounded" }
  ).pipe(Effect.flatMap((refusals) => {
    const first = Option.reduceCompact(refusals, Option.none<InvalidImportLine>(), (earliest, refusal) =>
      Option.some(Option.isSome(earliest) && earliest.value.line < refusal.line ? earliest.value : refusal))
    return Option.isSome(first) ? Effect.fail(first.value) : Effect.void
  }))

/** What an import put, store by store, and how many lines it skipped, for the line that says so. */
const summary = (counts: ReadonlyMap<string, number>, expired: number): string => {
  let total = 0
  for (const count of counts.values()) total += count
  const shown = [...counts.entries()].sort(([a], [b]) => a < b ? -1 : 1).slice(0, 10)
    .map(([store, count]) => `${store} (${count})`)
  const more = counts.size > shown.length ? `, and ${counts.size - shown.length} more` : ""
  return `imported ${counted(total, "value")} into ${counted(counts.size, "store")}` +
    (counts.size === 0 ? "" : `: ${shown.join(", ")}${more}`) +
    (expired === 0 ? "" : `; ${expired} already expired, skipped`)
}

/**
 * `import`: JSON lines from stdin into the data folder; says what it put, store by store.
 *
 * @since 0.1.0
 * @category commands
 */
export const importCommand = Command.make("import", { dataDir: dataDirOption }, (args) =>
  withKV(args.dataDir, (kv) =>
    Effect.gen(function*() {
      const counts = new Map<string, number>()
      let expired = 0
      let lines = 0
      yield* Stdin.lines.pipe(
        Stream.zipWithIndex,
        Stream.filter(([text]) => text.trim() !== ""),
        Stream.mapEffect(([text, index]) =>
          decodeLine(text).pipe(
            Effect.map((line): NumberedLine => ({ ...line, number: index + 1 })),
            Effect.mapError((error) => new InvalidImportLine({ line: index + 1, reason: reasonOf(error) }))
          )
        ),
        Stream.grouped(groupSize),
        Stream.runForEach((group) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const chosen = linesToPut(group, now)
            return Effect.zipRight(
              putGroup(kv, chosen.lastOfKey),
              Effect.suspend(() => {
                for (const line of chosen.put) counts.set(line.store, (counts.get(line.store) ?? 0) + 1)
                expired += chosen.expired
                return progress(`imported ${lines += group.length} lines`)
              })
            )
          })
        )
      )
      yield* progressDone()
      yield* printLine(summary(counts, expired))
    }))).pipe(
    Command.withDescription(
      "Reads JSON lines from stdin, each {\"store\",\"key\",\"value\"} and \"expiresAt\" (epoch ms) for a key that " +
        "expires, as export writes them, and puts them into the data folder with their deadlines; a line whose " +
        "deadline has passed is skipped. Then says how many values went into which stores. No server may hold the folder."
    )
  )
