/**
 * The `effect-kv` command line as one program: `npm run build` bundles it, with every package it
 * imports, into `dist/bin/cli.cjs`, which `bin/effect-kv.ts` runs.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cli from "../src/cli/Cli.js"

NodeRuntime.runMain(Cli.run(process.argv), { disableErrorReporting: true, disablePrettyLogger: true, teardown: Cli.teardown })
