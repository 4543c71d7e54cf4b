/**
 * The commands that talk to a running server: `get`, `put`, `del`, `keys` and `stores`.
 * Each takes `--url` and `--token` and goes through the one `ServerClient`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { KeyPage } from "../kv/Store.js"
import * as Client from "./Client.js"
import { InvalidJson } from "./Errors.js"
import { decodeJson, reasonOf } from "./Json.js"
import { printLine } from "./Output.js"
import * as Stdin from "./Stdin.js"

const store = Args.text({ name: "STORE" }).pipe(Args.withDescription("The store's name."))
const key = Args.text({ name: "KEY" }).pipe(Args.withDescription("The key."))

// Gives a command that takes `connection` options the `ServerClient` they describe.
const withServer = <Name extends string, R, E, A extends { readonly connection: Client.Connection }>(
  command: Command.Command<Name, R, E, A>
) => Command.provide(command, (args) => Client.layer(args.connection))

const connection = Client.connectionOptions

export const get = Command.make("get", { store, key, connection }, (args) =>
  Effect.gen(function*() {
    const value = yield* (yield* Client.ServerClient).get(args.store, args.key)
    yield* printLine(JSON.stringify(value))
  })).pipe(withServer, Command.withDescription("Prints the JSON value of KEY in STORE; fails if the key is absent."))

const decodeValue = decodeJson(Schema.Unknown)

export const put = Command.make("put", {
  store,
  key,
  connection,
  json: Args.text({ name: "JSON" }).pipe(Args.withDescription("The value as JSON, or - to read it from stdin."))
}, (args) =>
  Effect.gen(function*() {
    const fromStdin = args.json === "-"
    const json = fromStdin ? yield* Stdin.text : args.json
    const value = yield* decodeValue(json).pipe(
      Effect.mapError((error) => new InvalidJson({ source: fromStdin ? "stdin" : "the JSON argument", reason: reasonOf(error) }))
    )
    const version = yield* (yield* Client.ServerClient).put(args.store, args.key, value)
    yield* printLine(JSON.stringify({ version }))
  })).pipe(withServer, Command.withDescription("Sets KEY in STORE to a JSON value; prints the key's new version."))

export const del = Command.make("del", { store, key, connection }, (args) =>
  Effect.flatMap(Client.ServerClient, (client) => client.delete(args.store, args.key))).pipe(
    withServer,
    Command.withDescription("Deletes KEY from STORE; fails if the key is absent.")
  )

// The server's largest page; longer listings follow its cursor.
const pageSize = 1000

export const keys = Command.make("keys", {
  store,
  connection,
  prefix: Options.text("prefix").pipe(Options.withDescription("Only keys that start with this."), Options.withDefault("")),
  limit: Options.integer("limit").pipe(
    Options.filterMap(Option.liftPredicate((limit) => limit >= 1), "--limit must be at least 1"),
    Options.withDescription("Print at most this many keys (default: all)."),
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

export const stores = Command.make("stores", { connection }, () =>
  Effect.gen(function*() {
    const names = yield* (yield* Client.ServerClient).stores
    for (const name of names) yield* printLine(name)
  })).pipe(withServer, Command.withDescription("Prints the names of the stores that hold data, one a line."))
