/**
 * The commands that talk to a running server: `get`, `put`, `del`, `keys`, `stores`, `restart`,
 * `expire`, `persist` and `atomic`. Each takes `--url` and `--token` and goes through the one
 * `ServerClient`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { AtomicBody, TtlParam } from "../http/Api.js"
import { checkJsonText } from "../kv/Limits.js"
import type { KeyPage } from "../kv/Store.js"
import * as Client from "./Client.js"
import { CannotRead, InvalidJson } from "./Errors.js"
import { decodeJson, reasonOf } from "./Json.js"
import { printLine } from "./Output.js"
import * as Stdin from "./Stdin.js"

/**
 * The `STORE` argument of the commands that talk to a server.
 *
 * @since 0.2.0
 * @category arguments
 */
export const store = Args.text({ name: "STORE" }).pipe(
  Args.withDescription("The store's name: 1 to 128 letters, digits, '.', '_' or '-'.")
)

/**
 * The `--prefix` option of the commands that read part of a store, `""` (every key) by default;
 * `what` says what it keeps.
 *
 * @since 0.2.0
 * @category options
 */
export const prefix = (what: string) =>
  Options.text("prefix").pipe(
    Options.withPseudoName("PREFIX"),
    Options.withDescription(`${what} Default: every key.`),
    Options.withDefault("")
  )
const key = Args.text({ name: "KEY" }).pipe(Args.withDescription("The key: any text of 1 to 1,024 bytes of UTF-8."))

// Gives a command that takes `connection` options the `ServerClient` they describe.
const withServer = <Name extends string, R, E, A extends { readonly connection: Client.Connection }>(
  command: Command.Command<Name, R, E, A>
) => Command.provide(command, (args) => Client.layer(args.connection))

const connection = Client.connectionOptions

/**
 * `get STORE KEY`: prints the key's value as JSON.
 *
 * @since 0.1.0
 * @category commands
 */
export const get = Command.make("get", { store, key, connection }, (args) =>
  Effect.gen(function*() {
    const value = yield* (yield* Client.ServerClient).get(args.store, args.key)
    yield* printLine(JSON.stringify(value))
  })).pipe(withServer, Command.withDescription("Prints the JSON value of KEY in STORE; fails if the key is absent."))

// JSON text as `schema`'s type, refusing numbers that JSON.parse accepts but loses (1e400, 1e-400).
const parseJson = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = decodeJson(schema)
  return (text: string) =>
    Effect.flatMap(decode(text).pipe(Effect.mapError(reasonOf)), (value) => {
      const numbers = checkJsonText(text)
      return Either.isLeft(numbers) ? Effect.fail(numbers.left.message) : Effect.succeed(value)
    })
}

const parseValue = parseJson(Schema.Unknown)
const parseAtomic = parseJson(AtomicBody)

// Seconds as the HTTP API takes them in `?ttl=`; a bad one is a usage error of one line.
const decodeTtl = Schema.decodeEither(TtlParam)
const ttlOf = (text: string) =>
  Either.match(decodeTtl(text), {
    onLeft: (error) => Effect.fail(HelpDoc.p(reasonOf(error))),
    onRight: (seconds) => Effect.succeed(seconds)
  })

/**
 * `put STORE KEY JSON`: sets the key, from the argument or stdin; prints the new version.
 *
 * @since 0.1.0
 * @category commands
 */
export const put = Command.make("put", {
  store,
  key,
  connection,
  json: Args.text({ name: "JSON" }).pipe(
    Args.withDescription("The value as JSON (quote it for the shell: '{\"a\":1}', '\"text\"'), or - to read it from stdin.")
  ),
  ttl: Options.text("ttl").pipe(
    Options.mapEffect((text) => Effect.mapError(ttlOf(text), ValidationError.invalidValue)),
    Options.withPseudoName("SECONDS"),
    Options.withDescription(
      "The key expires this many seconds after the write (decimals allowed). Default: never; the key loses any expiry it had."
    ),
    Options.optional
  )
}, (args) =>
  Effect.gen(function*() {
    const fromStdin = args.json === "-"
    const json = fromStdin ? yield* Stdin.text : args.json
    const value = yield* parseValue(json).pipe(
      Effect.mapError((reason) => new InvalidJson({ source: fromStdin ? "stdin" : "the JSON argument", reason }))
    )
    const version = yield* (yield* Client.ServerClient).put(args.store, args.key, value, Option.getOrUndefined(args.ttl))
    yield* printLine(JSON.stringify({ version }))
  })).pipe(
    withServer,
    Command.withDescription("Sets KEY in STORE to a JSON value, expiring after --ttl seconds if given; prints the key's new version.")
  )

/**
 * `del STORE KEY`: deletes the key.
 *
 * @since 0.1.0
 * @category commands
 */
export const del = Command.make("del", { store, key, connection }, (args) =>
  Effect.flatMap(Client.ServerClient, (client) => client.delete(args.store, args.key))).pipe(
    withServer,
    Command.withDescription("Deletes KEY from STORE; fails if the key is absent.")
  )

// The server's largest page; longer listings follow its cursor.
const pageSize = 1000

/**
 * `keys STORE`: prints the store's keys, one a line, sorted.
 *
 * @since 0.1.0
 * @category commands
 */
export const keys = Command.make("keys", {
  store,
  connection,
  prefix: prefix("Only keys that start with this."),
  limit: Options.integer("limit").pipe(
    Options.withPseudoName("N"),
    Options.filterMap(Option.liftPredicate((limit) => limit >= 1), "--limit must be at least 1"),
    Options.withDescription("Print at most this many keys. Default: all of them."),
    Options.optional
  )
}, (args) =>
  Effect.gen(function*() {
    const client = yield* Client.ServerClient
    let remaining = Option.getOrElse(args.limit, () => Number.POSITIVE_INFINITY)
    let after = Option.none<string>()
    do {
      const page: KeyPage = yield* client.keys(args.store, { prefix: args.prefix, after, limit: Math.min(remaining, pageSize) })
      for (const key of page.keys) yield* printLine(key)
      remaining -= page.keys.length
      after = page.next
    } while (remaining > 0 && Option.isSome(after))
  })).pipe(withServer, Command.withDescription("Prints the keys of STORE, one a line, sorted."))

/**
 * `stores`: prints the names of the stores that hold data.
 *
 * @since 0.1.0
 * @category commands
 */
export const stores = Command.make("stores", { connection }, () =>
  Effect.gen(function*() {
    const names = yield* (yield* Client.ServerClient).stores
    for (const name of names) yield* printLine(name)
  })).pipe(withServer, Command.withDescription("Prints the names of the stores that hold data, one a line."))

/**
 * `restart STORE`: starts a store that failed again, without restarting the server.
 *
 * @since 0.2.0
 * @category commands
 */
export const restart = Command.make("restart", { store, connection }, (args) =>
  Effect.gen(function*() {
    yield* (yield* Client.ServerClient).restart(args.store)
    yield* printLine(`store ${args.store} is running`)
  })).pipe(
    withServer,
    Command.withDescription(
      "Starts STORE again from its log after it failed (StoreFailed), without restarting the server. " +
        "On a store that runs it changes nothing."
    )
  )

/**
 * `expire STORE KEY SECONDS`: sets the key's expiry, keeping its value; prints its new version.
 *
 * @since 0.2.0
 * @category commands
 */
export const expire = Command.make("expire", {
  store,
  key,
  connection,
  seconds: Args.text({ name: "SECONDS" }).pipe(
    Args.mapEffect(ttlOf),
    Args.withDescription("Seconds from now until the key expires: a number above 0, decimals allowed.")
  )
}, (args) =>
  Effect.gen(function*() {
    const version = yield* (yield* Client.ServerClient).expire(args.store, args.key, args.seconds)
    yield* printLine(JSON.stringify({ version }))
  })).pipe(
    withServer,
    Command.withDescription(
      "Sets, moves or extends the expiry of KEY in STORE to SECONDS from now, keeping its value; prints the key's new version."
    )
  )

/**
 * `persist STORE KEY`: removes the key's expiry, keeping its value; prints its version.
 *
 * @since 0.2.0
 * @category commands
 */
export const persist = Command.make("persist", { store, key, connection }, (args) =>
  Effect.gen(function*() {
    const version = yield* (yield* Client.ServerClient).persist(args.store, args.key)
    yield* printLine(JSON.stringify({ version }))
  })).pipe(
    withServer,
    Command.withDescription("Removes the expiry of KEY in STORE, keeping its value; prints the key's version.")
  )

// The text of the file named, or of stdin, with the name to give it in errors.
const readSource = (file: Option.Option<string>) =>
  Option.match(file, {
    onNone: () => Effect.map(Stdin.text, (text) => ["stdin", text] as const),
    onSome: (path) =>
      Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
        Effect.mapError((error) => new CannotRead({ path, reason: error.message })),
        Effect.map((text) => [path, text] as const)
      )
  })

/**
 * `atomic STORE`: one atomic write, `{"checks":[...],"ops":[...]}`, from stdin or `--file`;
 * prints its version.
 *
 * @since 0.2.0
 * @category commands
 */
export const atomic = Command.make("atomic", {
  store,
  connection,
  file: Options.file("file", { exists: "yes" }).pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("Read the write from FILE, which must exist. Default: stdin."),
    Options.optional
  )
}, (args) =>
  Effect.gen(function*() {
    const [source, text] = yield* readSource(args.file)
    const write = yield* parseAtomic(text).pipe(Effect.mapError((reason) => new InvalidJson({ source, reason })))
    const version = yield* (yield* Client.ServerClient).atomic(args.store, write)
    yield* printLine(JSON.stringify({ version }))
  })).pipe(
    withServer,
    Command.withDescription(
      "Applies an atomic write to STORE, all or nothing: JSON {\"checks\":[{\"key\",\"version\"}], " +
        "\"ops\":[{\"op\":\"put\",\"key\",\"value\",\"ttl\"}, {\"op\":\"delete\",\"key\"}, " +
        "{\"op\":\"increment\",\"key\",\"by\"}]} from stdin or --file; prints its version. " +
        "A failed check names every check that failed."
    )
  )
