/**
 * The `effect-kv` command line: every command under one root, its help, and how a run ends — one
 * line on stderr for a failure, and the exit code.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { version } from "../http/Api.js"
import * as ClientCommands from "./ClientCommands.js"
import { compact } from "./Compact.js"
import * as Help from "./Help.js"
import * as Output from "./Output.js"
import { serve } from "./Serve.js"
import * as Transfer from "./Transfer.js"
import { verify } from "./Verify.js"

const name = "effect-kv"

const subcommands = [
  serve,
  ClientCommands.get,
  ClientCommands.put,
  ClientCommands.del,
  ClientCommands.keys,
  ClientCommands.stores,
  ClientCommands.restart,
  ClientCommands.expire,
  ClientCommands.persist,
  ClientCommands.atomic,
  verify,
  compact,
  Transfer.exportCommand,
  Transfer.importCommand
] as const

/**
 * The root command, `effect-kv`, with every subcommand.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Command.make(name).pipe(
  Command.withDescription("A durable, OTP-style key-value store: run a server, talk to one, or tend a data folder."),
  Command.withSubcommands(subcommands)
)

const cli = Command.run(command, { name, version })

// @effect/cli has printed a usage error already, with the usage it concerns.
const isUsageError = (cause: Cause.Cause<unknown>) =>
  Option.exists(Cause.failureOption(cause), ValidationError.isValidationError)

/**
 * Runs the command line `argv` (as `process.argv`). A failure is printed as one line on stderr,
 * then fails the effect for {@link teardown} to pick the exit code. `--help` prints the help of
 * the command it follows.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown> => {
  const help = Help.requested(command, argv.slice(2), { name, version })
  const program: Effect.Effect<void, unknown, NodeContext.NodeContext> = Option.isSome(help)
    ? Output.printLine(help.value)
    : cli(argv)
  return program.pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) || isUsageError(cause) ? Effect.void : Output.reportFailure(cause)
    ),
    Effect.provide(Layer.merge(NodeContext.layer, Output.layerConsole))
  )
}

/**
 * Exit codes: 0 success or stopped by a signal, 2 a usage error, 1 any other failure.
 *
 * @since 0.1.0
 * @category utils
 */
export const teardown: Teardown = (exit, onExit) =>
  onExit(Exit.match(exit, {
    onSuccess: () => 0,
    onFailure: (cause) => Cause.isInterruptedOnly(cause) ? 0 : isUsageError(cause) ? 2 : 1
  }))
