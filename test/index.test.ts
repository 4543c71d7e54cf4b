/**
 * The package's entry points, as a user imports them: the pieces compose without reaching into
 * `src/` paths.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Layer, Option } from "effect"
import { KV, Storage } from "../src/index.js"
import { Server } from "../src/otp/index.js"
import { onTempDir } from "./storage/fixtures/TempDir.js"

describe("entry points", () => {
  it.effect("KV on a Storage layer built from the Storage module", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      yield* kv.put("users", "ada", { name: "Ada" })
      expect(yield* kv.get("users", "ada")).toEqual(Option.some({ name: "Ada" }))
    }).pipe(Effect.provide(
      KV.layerWith().pipe(
        Layer.provide(onTempDir((dataDir) => Storage.layerFile({ dataDir }))),
        Layer.provide(NodeFileSystem.layer)
      )
    )))

  it.scoped("the OTP toolkit's Server from effect-kv/otp", () =>
    Effect.gen(function*() {
      const counter = yield* Server.start<number, "inc", number>({
        init: Effect.succeed(0),
        handleCall: (_, n) => Effect.succeed([n + 1, n + 1] as const)
      }, { name: "counter" })
      expect(yield* counter.call("inc")).toBe(1)
    }))
})
