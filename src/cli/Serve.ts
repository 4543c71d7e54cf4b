/**
 * `serve`: the HTTP server over `KV` on a data folder, until SIGTERM or SIGINT.
 *
 * On the first signal the launcher interrupts the command, which closes the layers in order: the
 * server stops accepting and finishes the requests in flight, then every store's log is flushed
 * and closed, and the process exits 0. A second signal ends the process at once.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Defaults from "../http/Defaults.js"
import { dataDirOption } from "./DataDir.js"
import { CannotListen } from "./Errors.js"
import * as Otlp from "./Otlp.js"
import { colourEnabled, printLine } from "./Output.js"

const syncPolicies = ["always", "interval", "none"] as const

const options = {
  dataDir: dataDirOption,
  host: Options.text("host").pipe(
    Options.withPseudoName("HOST"),
    Options.withDescription(
      "The interface to listen on; 0.0.0.0 for every one. Default: 127.0.0.1 (this machine only). Environment: KV_HOST."
    ),
    Options.withFallbackConfig(Config.string("KV_HOST")),
    Options.withDefault(Defaults.defaultHost)
  ),
  port: Options.integer("port").pipe(
    Options.withPseudoName("PORT"),
    Options.filterMap(Option.liftPredicate((port) => port >= 0 && port <= 65535), "--port must be from 0 to 65535"),
    Options.withDescription("The port; 0 takes a free one. Default: 4000. Environment: KV_PORT."),
    Options.withFallbackConfig(Config.integer("KV_PORT")),
    Options.withDefault(Defaults.defaultPort)
  ),
  sync: Options.choice("sync", syncPolicies).pipe(
    Options.withDescription(
      "When a write is acknowledged: always (after an fsync), interval (fsync every second), none (left to the OS). " +
        "Default: always. Environment: KV_SYNC."
    ),
    Options.withFallbackConfig(Config.literal(...syncPolicies)("KV_SYNC")),
    Options.withDefault("always" as const)
  ),
  token: Options.redacted("token").pipe(
    Options.withPseudoName("TOKEN"),
    Options.withDescription(
      "Require \"Authorization: Bearer TOKEN\" on every route but /health. Default: none (no token needed). " +
        "Environment: KV_TOKEN."
    ),
    Options.withFallbackConfig(Config.redacted("KV_TOKEN")),
    Options.optional
  ),
  timeout: Options.float("timeout").pipe(
    Options.withPseudoName("SECONDS"),
    Options.filterMap(Option.liftPredicate((seconds) => seconds > 0), "--timeout must be more than 0 seconds"),
    Options.withDescription(
      "The deadline of a request's waits in the server: for its store (starting, busy, writing) and for its turn to " +
        "read a large body. Past it: 503 (nothing was done: retry) or, for a write its store had taken, 504 (read " +
        "before retrying). Default: 5. Environment: KV_TIMEOUT."
    ),
    Options.withFallbackConfig(Config.number("KV_TIMEOUT")),
    Options.withDefault(Duration.toSeconds(Defaults.defaultRequestTimeout))
  ),
  corsOrigin: Options.text("cors-origin").pipe(
    Options.withPseudoName("ORIGINS"),
    Options.withDescription(
      "Let browser apps from these origins call the API (CORS): comma-separated, such as https://app.example.com, " +
        "or * for any. Default: none (CORS off). Environment: KV_CORS_ORIGIN."
    ),
    Options.withFallbackConfig(Config.string("KV_CORS_ORIGIN")),
    Options.optional
  ),
  metricsPublic: Options.boolean("metrics-public").pipe(
    Options.withDescription(
      "Serve GET /metrics without the token, for a Prometheus that holds no secret. Default: the token applies. " +
        "Environment: KV_METRICS_PUBLIC."
    ),
    Options.withFallbackConfig(Config.boolean("KV_METRICS_PUBLIC"))
  ),
  noFastPath: Options.boolean("no-fast-path").pipe(
    Options.withDescription(
      "Answer every request through the declared API, without the fast path that takes GET, PUT and DELETE of a key " +
        "(its answers are the same, byte for byte). Default: the fast path is on. Environment: KV_NO_FAST_PATH."
    ),
    Options.withFallbackConfig(Config.boolean("KV_NO_FAST_PATH"))
  ),
  otlpUrl: Options.text("otlp-url").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription(
      "Send spans of every request, down to the fsync, to this OTLP/HTTP traces endpoint, such as " +
        "http://127.0.0.1:4318/v1/traces. Default: none (no tracing). " +
        "Environment: KV_OTLP_URL."
    ),
    Options.withFallbackConfig(Config.string("KV_OTLP_URL")),
    Options.optional
  )
}

/** `a.example, b.example` as a list; nothing for an empty one. */
const originsOf = (list: string): ReadonlyArray<string> =>
  list.split(",").map((origin) => origin.trim()).filter((origin) => origin !== "")

// Structured logs: JSON for a machine reading stdout, readable lines for a person.
const layerLogger = Layer.unwrapEffect(Effect.map(colourEnabled, (colour) =>
  Logger.replace(
    Logger.defaultLogger,
    process.stdout.isTTY === true ? Logger.prettyLogger({ colors: colour }) : Logger.withConsoleLog(Logger.jsonLogger)
  )))

// Runs while the server does: says where it listens, then waits for a signal.
const announce = (dataDir: string, address: HttpServer.Address) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const url = address._tag === "TcpAddress" ? `http://${address.hostname}:${address.port}` : address.path
    yield* printLine(`effect-kv listening on ${url}, data in ${path.resolve(dataDir)}`)
    return yield* Effect.never
  })

// The server and the stores load only when `serve` runs, so that the client commands start
// without them (see `bin/effect-kv.ts`).
const serverModules = Effect.promise(() => Promise.all([import("../http/Server.js"), import("../kv/KV.js")]))

/**
 * `serve`: the HTTP server on a data folder until SIGTERM or SIGINT; one line says where it
 * listens, and one line says when it has stopped, after every store's log is closed.
 *
 * @since 0.1.0
 * @category commands
 */
export const serve = Command.make("serve", options, (args) =>
  Effect.flatMap(serverModules, ([Server, { KV }]) =>
    // The HTTP server is the last child of KV's supervision tree: on a signal it stops first.
    Server.startInTree({
      host: args.host,
      port: args.port,
      token: Option.getOrUndefined(Option.map(args.token, Redacted.value)),
      corsOrigins: Option.getOrUndefined(Option.map(args.corsOrigin, originsOf)),
      requestTimeout: Duration.seconds(args.timeout),
      metricsPublic: args.metricsPublic,
      fastPath: !args.noFastPath
    }).pipe(
      Effect.flatMap((address) => announce(args.dataDir, address)),
      Effect.provide(KV.layer({ dataDir: args.dataDir, sync: args.sync, callTimeout: Duration.seconds(args.timeout) })),
      // Outside KV's layer: the stores and the server run under the tracer, and spans still
      // buffered are sent once they have all stopped.
      Effect.provide(Option.match(args.otlpUrl, { onNone: () => Layer.empty, onSome: Otlp.layer })),
      // Outside KV's layer: by now the requests in flight are answered and every log is closed.
      Effect.onInterrupt(() => printLine("effect-kv stopped: requests in flight answered, every store's log closed")),
      Effect.catchTag("ServeError", (error) =>
        Effect.fail(
          new CannotListen({
            host: args.host,
            port: args.port,
            reason: error.cause instanceof Error ? error.cause.message : String(error.cause)
          })
        )),
      Effect.provide(layerLogger)
    ))).pipe(
    Command.withDescription("Serves the HTTP API on a data folder until SIGTERM or SIGINT (Ctrl-C).")
  )
