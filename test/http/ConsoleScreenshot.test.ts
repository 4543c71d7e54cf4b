/**
 * The README's screenshot of the web console, at 1280×800 on a server with a few stores on a data
 * folder, with changes made while it is open (so the page shows them live) and the health panel's
 * figures read. It is
 * written to a temporary folder; `KV_SCREENSHOT=docs/console.png npx vitest run
 * test/http/ConsoleScreenshot.test.ts` writes it where the README shows it.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { KV } from "../../src/kv/KV.js"
import { onTempDir } from "../storage/fixtures/TempDir.js"
import * as Browser from "./browser.js"
import { Base, on, openConsole, put, until, waitForText } from "./browser.js"
import { request } from "./server.js"

const target = process.env["KV_SCREENSHOT"] ?? Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-kv-shot-")), "console.png")

const people = ["ada", "alan", "barbara", "edsger", "frances", "grace", "john", "katherine", "ken", "leslie", "margaret", "niklaus", "radia", "tony"]

const kv = onTempDir((dataDir) => KV.layer({ dataDir, sync: "always" }))

layer(Browser.layer({}, kv), { excludeTestServices: true })("the README's screenshot", (it) => {
  it.scoped("shows the stores, a page of keys changing live, a value with its expiry and the server's health at 1280×800", () =>
    Effect.gen(function*() {
      yield* Effect.forEach(people, (name, i) =>
        put("users", `user:${name}`, {
          name: name[0]!.toUpperCase() + name.slice(1),
          email: `${name}@example.com`,
          roles: i % 3 === 0 ? ["admin", "editor"] : ["reader"],
          active: i % 4 !== 0
        }), { discard: true })
      yield* put("users", "user:grace", {
        name: "Grace Hopper",
        email: "grace@example.com",
        roles: ["admin", "editor"],
        active: true,
        languages: ["COBOL", "FLOW-MATIC"],
        since: "1952-05-01"
      })
      yield* Effect.forEach(["checkout", "dark-mode", "search-v2"], (flag, i) => put("feature-flags", flag, i !== 1), { discard: true })
      yield* Effect.forEach(Array.from({ length: 42 }, (_, i) => i), (i) => put("sessions", `s-${1000 + i}`, { user: people[i % people.length] }), {
        discard: true
      })
      const base = yield* Base
      yield* request(base, "PUT", "/stores/users/keys/user%3Agrace/ttl", { body: { ttl: 7 * 86_400 } })
      const page = yield* openConsole("#/stores/users/keys/user%3Agrace")
      yield* on(page, async () => {
        await until("the value", () => page.locator("#value").inputValue(), (value) => value.includes("Grace Hopper"))
        await waitForText(page.locator("#store-list a[title=sessions] .detail"), "42 keys")
        await waitForText(page.locator("#live"), "Live")
      })
      yield* put("users", "user:hedy", { name: "Hedy", email: "hedy@example.com", roles: ["reader"], active: true })
      yield* put("users", "user:ken", { name: "Ken", email: "ken@example.com", roles: ["admin"], active: true })
      yield* request(base, "DELETE", "/stores/users/keys/user%3Atony")
      yield* on(page, async () => {
        await waitForText(page.locator("#key-list a[title='user:hedy'] .detail"), "new")
        await waitForText(page.locator("#key-list a[title='user:tony'] .detail"), "deleted")
        await waitForText(page.locator("#health-ops"), /^[\d.,]+$/)
        await waitForText(page.locator("#health-fsync"), /^[\d.]+ (µs|ms|s)$/)
        await page.locator("#value").blur()
        await page.screenshot({ path: target })
      })
      const png = Fs.readFileSync(target)
      // The PNG's header: its signature, then width and height.
      expect([png.subarray(1, 4).toString("ascii"), png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual(["PNG", 1280, 800])
    }))
})
