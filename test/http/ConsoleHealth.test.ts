/**
 * The web console's health panel: figures read from `GET /metrics` of a real server on a data
 * folder (so that it fsyncs), with a token, in Debian's Chromium, headless.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { KV } from "../../src/kv/KV.js"
import { onTempDir } from "../storage/fixtures/TempDir.js"
import * as Browser from "./browser.js"
import { on, openConsole, put, until, waitForText } from "./browser.js"

const token = "s3cret"
const auth = { authorization: `Bearer ${token}` }

const kv = onTempDir((dataDir) => KV.layer({ dataDir, sync: "always" }))

/** The figure a cell of the panel shows. */
const figure = (id: string) => `#health-${id}`

layer(Browser.layer({ token }, kv), { excludeTestServices: true })("web console, health", (it) => {
  it.scoped("shows operations per second, fsync time, open stores and watchers, with the token the tab holds", () =>
    Effect.gen(function*() {
      yield* put("busy", "k", 0, auth)
      const page = yield* openConsole("#/stores/busy")
      yield* on(page, async () => {
        // Refused before the tab holds the token: said, and no question of its own.
        await page.getByRole("dialog", { name: "This server needs a token" }).waitFor()
        await until("the panel to say /metrics was refused", () => page.locator("#health").getAttribute("title"), (title) =>
          title?.startsWith("The server wants its token for /metrics") === true)
        await page.getByRole("textbox", { name: "Token" }).fill(token)
        await page.getByRole("textbox", { name: "Token" }).press("Enter")
        await waitForText(page.locator("#live"), "Live")
      })
      // Writes while the panel reads: a rate above zero, and fsyncs timed.
      const writing = yield* Effect.fork(Effect.forever(put("busy", "k", 1, auth)))
      yield* on(page, async () => {
        await until("a rate of operations", () => page.locator(figure("ops")).textContent(), (text) => /^[1-9][\d,]*(\.\d)?$|^0\.[1-9]$/.test(text ?? ""))
        await waitForText(page.locator(figure("fsync")), /^[\d.]+ (µs|ms|s)$/)
        await waitForText(page.locator(figure("stores")), /^[1-9]\d*$/)
        expect(await page.locator("#health").getAttribute("data-state")).toBe("ok")
      })
      yield* Fiber.interrupt(writing)
      // This tab's watch of the store, then another tab's too.
      yield* on(page, () => waitForText(page.locator(figure("watchers")), "1"))
      const other = yield* openConsole("#/stores/busy")
      yield* on(other, async () => {
        await other.getByRole("textbox", { name: "Token" }).fill(token)
        await other.getByRole("textbox", { name: "Token" }).press("Enter")
        await waitForText(other.locator("#live"), "Live")
      })
      yield* on(page, () => waitForText(page.locator(figure("watchers")), "2"))
    }))

  it.scoped("fits a phone-sized window: the figures wrap under the title", () =>
    Effect.gen(function*() {
      const page = yield* openConsole("#/", { width: 390, height: 844 })
      yield* on(page, async () => {
        await page.getByRole("textbox", { name: "Token" }).fill(token)
        await page.getByRole("textbox", { name: "Token" }).press("Enter")
        await waitForText(page.locator(figure("stores")), /^\d+$/)
        expect(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")).toBe(0)
        for (const cell of ["ops", "fsync", "stores", "watchers"]) expect(await page.locator(figure(cell)).isVisible()).toBe(true)
      })
    }))
})
