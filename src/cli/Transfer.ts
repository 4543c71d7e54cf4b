/**
 * `export` and `import`: a data folder's stores as JSON lines, `{"store":..,"key":..,"value":..}`,
 * read and written through `KV` on the folder.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { KV, type KVService } from "../kv/KV.js"
import { chosenStores, dataDirOption, layerKV, onExistingDataDir, storeArg } from "./DataDir.js"
import { InvalidImportLine } from "./Errors.js"
import { decodeJson, reasonOf } from "./Json.js"
import { printLine, progress, progressDone } from "./Output.js"
import * as Stdin from "./Stdin.js"

/**
 * One line of an export.
 *
 * @since 0.1.0
 * @category models
 */
export const Line = Schema.Struct({ store: Schema.String, key: Schema.String, value: Schema.Unknown })

/**
 * `export [STORE]`: the data folder's keys as JSON lines on stdout.
 *
 * @since 0.1.0
 * @category commands
 */
export const exportCommand = Command.make("export", { dataDir: dataDirOption, store: storeArg }, (args) =>
  Effect.gen(function*() {
    const kv = yield* KV
    let count = 0
    for (const store of yield* chosenStores(kv, args.dataDir, args.store)) {
      let after: string | undefined
      do {
        const page = yield* kv.keys(store, { limit: 1000, ...(after === undefined ? {} : { after }) })
        for (const key of page.keys) {
          const value = yield* kv.get(store, key)
          if (Option.isSome(value)) yield* printLine(JSON.stringify({ store, key, value: value.value }))
        }
        count += page.keys.length
        yield* progress(`exported ${count} keys`, { printsResults: true })
        after = Option.getOrUndefined(page.next)
      } while (after !== undefined)
    }
    yield* progressDone({ printsResults: true })
  }).pipe(onExistingDataDir(args.dataDir))).pipe(
    Command.withDescription(
      "Writes every key of the data folder (or of STORE) to stdout, one JSON object a line. No server may hold the folder."
    )
  )

const decodeLine = decodeJson(Line)

type NumberedLine = typeof Line.Type & { readonly number: number }

// Lines go in groups: a group's puts run at once, keeping only a key's last line in the group so
// that no two puts of one key race.
const groupSize = 512

// Puts a group's lines; fails with the first line, by number, that the store refused.
const putGroup = (kv: KVService, group: Iterable<NumberedLine>) => {
  const lastOfKey = new Map<string, NumberedLine>()
  for (const line of group) lastOfKey.set(JSON.stringify([line.store, line.key]), line)
  return Effect.forEach(
    lastOfKey.values(),
    (line) =>
      kv.put(line.store, line.key, line.value).pipe(
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
}

/** What an import put, store by store, for the line that says so. */
const summary = (counts: ReadonlyMap<string, number>): string => {
  let total = 0
  for (const count of counts.values()) total += count
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`
  const shown = [...counts.entries()].sort(([a], [b]) => a < b ? -1 : 1).slice(0, 10)
    .map(([store, count]) => `${store} (${count})`)
  const more = counts.size > shown.length ? `, and ${counts.size - shown.length} more` : ""
  return `imported ${plural(total, "value")} into ${plural(counts.size, "store")}` +
    (counts.size === 0 ? "" : `: ${shown.join(", ")}${more}`)
}

/**
 * `import`: JSON lines from stdin into the data folder; says what it put, store by store.
 *
 * @since 0.1.0
 * @category commands
 */
export const importCommand = Command.make("import", { dataDir: dataDirOption }, (args) =>
  Effect.gen(function*() {
    const kv = yield* KV
    const counts = new Map<string, number>()
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
        Effect.zipRight(
          putGroup(kv, group),
          Effect.suspend(() => {
            for (const line of group) counts.set(line.store, (counts.get(line.store) ?? 0) + 1)
            return progress(`imported ${lines += group.length} lines`)
          })
        )
      )
    )
    yield* progressDone()
    yield* printLine(summary(counts))
  }).pipe(Effect.provide(layerKV(args.dataDir)))).pipe(
    Command.withDescription(
      "Reads JSON lines from stdin, each {\"store\",\"key\",\"value\"} as export writes them, and puts them into " +
        "the data folder; then says how many values went into which stores. No server may hold the folder."
    )
  )
