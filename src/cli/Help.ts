/**
 * `--help`, as a person reads it: usage that starts with `effect-kv`, and for each argument and
 * option only its own description (which says its default and its environment variable), without
 * the sentences @effect/cli adds to every entry ("A user-defined piece of text.", "This setting is
 * optional.").
 *
 * @since 0.2.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HashMap from "effect/HashMap"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
import * as Option from "effect/Option"

// The sentences @effect/cli writes under every option and argument; ours say the same, better.
const boilerplate = [
  /^A user-defined piece of text/,
  /^An integer\.$/,
  /^A floating point number\.$/,
  /^A true or false value\.$/,
  /^An existing file\.$/,
  /^One of the following: /,
  /^This setting is optional\./,
  /^This (option|argument) can be set from environment variables\.$/
]

const ansi = /\u001b\[[0-9;]*m/g

const textOf = (doc: HelpDoc.HelpDoc) => HelpDoc.toAnsiText(doc).replace(ansi, "").trim()

/** `doc` without the paragraphs that only restate an entry's type or optionality. */
const withoutBoilerplate = (doc: HelpDoc.HelpDoc): HelpDoc.HelpDoc => {
  switch (doc._tag) {
    case "Paragraph": {
      const text = textOf(doc)
      return boilerplate.some((pattern) => pattern.test(text)) ? HelpDoc.empty : doc
    }
    case "Sequence":
      return HelpDoc.sequence(withoutBoilerplate(doc.left), withoutBoilerplate(doc.right))
    case "DescriptionList":
      return HelpDoc.mapDescriptionList(doc, (span, block) => [span, withoutBoilerplate(block)])
    default:
      return doc
  }
}

/**
 * The help of `descriptor` as the program `name` prints it: at the root, or for a subcommand.
 * Built-in options (`--log-level`, ...) are listed at the root only.
 */
const render = (
  descriptor: Descriptor.Command<unknown>,
  options: { readonly name: string; readonly version: string; readonly root: boolean }
): string => {
  const config = CliConfig.make({ showBuiltIns: options.root })
  // @effect/cli gives the root's usage as its bare name, a subcommand's without the program's.
  const usage = options.root
    ? [`${options.name} <command> [arguments] [options]`, `${options.name} <command> --help`]
    : Usage.enumerate(Descriptor.getUsage(descriptor), config).map((span) => `${options.name} ${textOf(HelpDoc.p(span))}`)
  const doc = HelpDoc.blocks([
    HelpDoc.p(Span.text(`${options.name} ${options.version}`)),
    HelpDoc.h1("USAGE"),
    ...usage.map((line) => HelpDoc.p(Span.text(line))),
    withoutBoilerplate(Descriptor.getHelp(descriptor, config))
  ])
  return HelpDoc.toAnsiText(doc).trimEnd()
}

/**
 * The help that the command line `args` (after the program) asks for with `--help` or `-h`, if
 * it does: of the subcommand named before it, or of the root.
 *
 * @since 0.2.0
 * @category utils
 */
export const requested = <Name extends string, R, E, A>(
  root: Command.Command<Name, R, E, A>,
  args: ReadonlyArray<string>,
  program: { readonly name: string; readonly version: string }
): Option.Option<string> => {
  const end = args.indexOf("--")
  const flags = end === -1 ? args : args.slice(0, end)
  const help = flags.findIndex((arg) => arg === "--help" || arg === "-h")
  if (help === -1) return Option.none()
  const subcommands = Command.getSubcommands(root)
  const named = Option.firstSomeOf(flags.slice(0, help).map((arg) => HashMap.get(subcommands, arg)))
  return Option.some(Option.match(named, {
    onNone: () => render(root.descriptor, { ...program, root: true }),
    onSome: (subcommand) => render(subcommand, { ...program, root: false })
  }))
}
