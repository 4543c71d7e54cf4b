/**
 * `verify`: checks every snapshot and log of a data folder no server holds, one line per file,
 * and fails if any is corrupt or ends in a torn tail.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import type { FileReport } from "../storage/Verify.js"
import { dataDirOption, requireDataDir } from "./DataDir.js"
import { VerifyFailed } from "./Errors.js"
import { counted, printLine } from "./Output.js"

const describe = (report: FileReport): string => {
  const status = report.status
  switch (status._tag) {
    case "Ok":
      return `ok       ${report.file} (${counted(status.records, "record")})`
    case "TornTail":
      return `torn     ${report.file} at byte ${status.offset}: ${status.reason} ` +
        `(${counted(status.records, "whole record")}; the next open cuts the tail off)`
    case "Corrupt":
      return `corrupt  ${report.file} at byte ${status.offset}: ${status.reason} (the store will not open)`
    case "Leftover":
      return `leftover ${report.file} (an interrupted compaction; the next open deletes it)`
  }
}

// The storage code loads only when `verify` runs, so that the client commands start without it
// (see `bin/effect-kv.ts`).
const storageVerify = Effect.promise(() => import("../storage/Verify.js"))

/**
 * `verify`: one line per file of the data folder; fails on damage.
 *
 * @since 0.1.0
 * @category commands
 */
export const verify = Command.make("verify", { dataDir: dataDirOption }, (args) =>
  Effect.gen(function*() {
    yield* requireDataDir(args.dataDir)
    const { verify: verifyDataDir } = yield* storageVerify
    const report = yield* verifyDataDir(args.dataDir)
    for (const file of report.files) yield* printLine(describe(file))
    const count = (tag: FileReport["status"]["_tag"]) => report.files.filter((file) => file.status._tag === tag).length
    const corrupt = count("Corrupt")
    const torn = count("TornTail")
    if (corrupt + torn > 0) return yield* new VerifyFailed({ dataDir: report.dataDir, corrupt, torn })
    yield* printLine(`${report.stores} stores, ${report.files.length} files: all whole`)
  })).pipe(
    Command.withDescription(
      "Checks every log and snapshot of the data folder, one line a file; exits 1 on corruption or a torn tail. " +
        "No server may hold the folder."
    )
  )
