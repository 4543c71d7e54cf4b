/**
 * The web console on a server with a token: it asks once, keeps the token for the tab only
 * (`sessionStorage`), and asks again when it is refused or forgotten.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Browser from "./browser.js"
import { on, openConsole, put, until, waitForText } from "./browser.js"

const token = "s3cret"
const auth = { authorization: `Bearer ${token}` }

layer(Browser.layer({ token }), { excludeTestServices: true })("web console with a token", (it) => {
  it.scoped("asks for the token once, for every call refused together, and keeps it for the tab only", () =>
    Effect.gen(function*() {
      yield* put("guarded", "k", { secret: true }, auth)
      // Three calls at once, all refused: the list of stores, the store, the key.
      const page = yield* openConsole("#/stores/guarded/keys/k")
      const dialog = page.getByRole("dialog", { name: "This server needs a token" })
      yield* on(page, async () => {
        await dialog.waitFor()
        expect(await page.locator("#token-reason").textContent()).toMatch(/^Give the server's token/)
        await dialog.getByLabel("Token").fill("wrong")
        await dialog.getByLabel("Token").press("Enter")
        await waitForText(page.locator("#token-reason"), /^The server refused the token this tab held/)
        await dialog.getByLabel("Token").fill(token)
        await dialog.getByRole("button", { name: "Use token" }).click()
        await until("the value", () => page.locator("#value").inputValue(), (value) => value !== "")
        expect(JSON.parse(await page.locator("#value").inputValue())).toEqual({ secret: true })
        await waitForText(page.locator("#store-list a[title=guarded] .detail"), "1 key")
        expect(await dialog.isVisible()).toBe(false)
        expect(await page.evaluate("[sessionStorage.getItem('effect-kv.token'), localStorage.length]")).toEqual([token, 0])

        // The same tab, reloaded, still has it: no question.
        await page.reload()
        await until("the value after a reload", () => page.locator("#value").inputValue(), (value) => value !== "")
        expect(await dialog.isVisible()).toBe(false)
        await page.getByRole("button", { name: "Forget token" }).click()
        expect(await page.evaluate("sessionStorage.getItem('effect-kv.token')")).toBe(null)
        await page.getByRole("button", { name: "Reload" }).first().click()
        await dialog.waitFor()
      })
      // Another tab has its own session: it asks too.
      const other = yield* openConsole()
      yield* on(other, () => other.getByRole("dialog", { name: "This server needs a token" }).waitFor())
    }))

  it.scoped("says so when the person declines to give the token", () =>
    Effect.gen(function*() {
      const page = yield* openConsole()
      yield* on(page, async () => {
        const dialog = page.getByRole("dialog", { name: "This server needs a token" })
        await dialog.getByRole("button", { name: "Cancel" }).click()
        await waitForText(page.locator("#notice"), /^this server needs a token: send the header/)
        expect(await page.locator("#notice").getAttribute("data-kind")).toBe("error")
      })
    }))
})
