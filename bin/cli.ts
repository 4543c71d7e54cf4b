#!/usr/bin/env node
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cli from "../src/cli/Cli.js"

NodeRuntime.runMain(Cli.run(process.argv), { disableErrorReporting: true, disablePrettyLogger: true, teardown: Cli.teardown })
