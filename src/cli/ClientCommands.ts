/**
 * The commands that talk to a running server: `get`, `put`, `del`, `keys`, `stores` and
 * `restart`. Each takes `--url` and `--token` and goes through the one `ServerClient`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { checkJsonText } from "../kv/Limits.js"
import type { KeyPage } from "../kv/Store.js"
import * as Client from "./Client.js"
import { InvalidJson } from "./Errors.js"
import { decodeJson, reasonOf } from "./Json.js"
import { printLine } from "./Output.js"
import * as Stdin from "./Stdin.js"

const store = Args.text({ name: "STORE" }).pipe(
  Args.withDescription("The store's name: 1 to 128 letters, digits, '.', '_' or '-'.")
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

const decodeValue = decodeJson(Schema.Unknown)

// JSON text as a value, refusing what JSON.parse accepts but loses (1e400, 1e-400).
const parseValue = (text: string) =>
  Effect.flatMap(decodeValue(text).pipe(Effect.mapError(reasonOf)), (value) => {
    const numbers = checkJsonText(text)
    return Either.isLeft(numbers) ? Effect.fail(numbers.left.message) : Effect.succeed(value)
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
  )
}, (args) =>
  Effect.gen(function*() {
    const fromStdin = args.json === "-"
    const json = fromStdin ? yield* Stdin.text : args.json
    const value = yield* parseValue(json).pipe(
      Effect.mapError((reason) => new InvalidJson({ source: fromStdin ? "stdin" : "the JSON argument", reason }))
    )
    const version = yield* (yield* Client.ServerClient).put(args.store, args.key, value)
    yield* printLine(JSON.stringify({ version }))
  })).pipe(withServer, Command.withDescription("Sets KEY in STORE to a JSON value; prints the key's new version."))

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
  prefix: Options.text("prefix").pipe(
    Options.withPseudoName("PREFIX"),
    Options.withDescription("Only keys that start with this. Default: every key."),
    Options.withDefault("")
  ),
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
