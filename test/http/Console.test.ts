/**
 * The web console, end to end: a real server on 127.0.0.1 and Debian's Chromium, headless. Each
 * test works in stores of its own on the file's one server.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Browser from "./browser.js"
import { get, on, openConsole, put, until, waitForText } from "./browser.js"
import { request } from "./server.js"

layer(Browser.layer(), { excludeTestServices: true })("web console", (it) => {
  it.scoped("serves its page and files from the server, with their ETag and a 304 for a browser that has them", () =>
    Effect.gen(function*() {
      const base = yield* Browser.Base
      const page = yield* request(base, "GET", "/ui")
      expect(page.status).toBe(200)
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
      expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'")
      const etag = page.headers.get("etag")!
      expect((yield* request(base, "GET", "/ui", { headers: { "if-none-match": etag } })).status).toBe(304)
      const script = yield* request(base, "GET", "/ui/console.js")
      expect([script.status, script.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"])
      const missing = yield* request(base, "GET", "/ui/nothing.js")
      expect([missing.status, (missing.json as { error: string }).error]).toEqual([404, "NotFound"])
      expect((yield* request(base, "POST", "/ui")).headers.get("allow")).toBe("GET")
    }))

  it.scoped("lists the stores with their key counts", () =>
    Effect.gen(function*() {
      for (const key of ["a", "b", "c"]) yield* put("alpha", key, key)
      yield* put("beta", "x", true)
      const page = yield* openConsole()
      yield* on(page, async () => {
        await waitForText(page.locator("#store-list a[title=alpha] .detail"), "3 keys")
        await waitForText(page.locator("#store-list a[title=beta] .detail"), "1 key")
        await page.getByRole("link", { name: /^beta/ }).click()
        await waitForText(page.locator("#store-title"), "beta")
        await waitForText(page.locator("#store-info"), /^1 key · version \d+$/)
      })
    }))

  it.scoped("pages through a store's keys, with the prefix filter, by keyboard", () =>
    Effect.gen(function*() {
      const keys = Array.from({ length: 250 }, (_, i) => `k${String(i).padStart(3, "0")}`)
      yield* Effect.forEach(keys, (key) => put("paged", key, key), { concurrency: 16, discard: true })
      yield* put("paged", "other", 0)
      const page = yield* openConsole("#/stores/paged")
      const list = page.locator("#key-list a")
      const shown = () => list.allTextContents()
      yield* on(page, async () => {
        await waitForText(page.locator("#page-label"), "Keys 1–100")
        expect(await shown()).toEqual(keys.slice(0, 100))
        await page.getByRole("button", { name: "Next →" }).click()
        await waitForText(page.locator("#page-label"), "Keys 101–200")
        expect(await shown()).toEqual(keys.slice(100, 200))
        await page.getByRole("button", { name: "Next →" }).click()
        await waitForText(page.locator("#page-label"), "Keys 201–251")
        expect(await shown()).toEqual([...keys.slice(200), "other"])
        expect(await page.getByRole("button", { name: "Next →" }).isDisabled()).toBe(true)
        await page.getByRole("button", { name: "← Previous" }).click()
        await waitForText(page.locator("#page-label"), "Keys 101–200")

        // "/" finds: the prefix filter starts again from the first page of what it matches.
        await page.locator("body").press("/")
        await page.keyboard.type("k24")
        await waitForText(page.locator("#page-label"), "Keys starting with \"k24\" 1–10")
        expect(await shown()).toEqual(keys.slice(240, 250))
        // Down into the list, along it, and Enter opens the key.
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        await waitForText(page.locator("#key-title"), "k241")
        await until("the value of k241", () => page.locator("#value").inputValue(), (value) => value === "\"k241\"")
      })
    }))

  it.scoped("edits a value: a compare-and-set on the version shown", () =>
    Effect.gen(function*() {
      const version = yield* put("edits", "profile", { name: "Ada", langs: ["en"] })
      const page = yield* openConsole("#/stores/edits/keys/profile")
      yield* on(page, async () => {
        const value = page.locator("#value")
        await until("the value", () => value.inputValue(), (text) => text !== "")
        expect(await value.inputValue()).toBe(JSON.stringify({ name: "Ada", langs: ["en"] }, null, 2))
        await waitForText(page.locator("#key-meta"), `version ${version} · 29 B`)
        await value.fill("{ \"name\": \"Ada Lovelace\" }")
        await value.press("Control+s")
        await waitForText(page.locator("#notice"), `Saved "profile" at version ${version + 1}.`)
        await waitForText(page.locator("#key-meta"), `version ${version + 1} · 23 B`)
      })
      expect(yield* get("edits", "profile")).toEqual({ status: 200, value: { name: "Ada Lovelace" }, version: version + 1 })
      // Text that is not JSON is not sent.
      yield* on(page, async () => {
        await page.locator("#value").fill("Ada")
        await page.getByRole("button", { name: "Save" }).click()
        await waitForText(page.locator("#value-error"), /^This is not JSON/)
      })
      expect((yield* get("edits", "profile")).version).toBe(version + 1)
    }))

  it.scoped("a conflicting edit is refused and shown: the newer value, with the edit kept beside it", () =>
    Effect.gen(function*() {
      const read = yield* put("conflicts", "doc", { by: "first" })
      const page = yield* openConsole("#/stores/conflicts/keys/doc")
      yield* on(page, async () => {
        await waitForText(page.locator("#key-meta"), new RegExp(`^version ${read} `))
        await page.locator("#value").fill("{ \"by\": \"me\" }")
      })
      const theirs = yield* put("conflicts", "doc", { by: "someone else" })
      yield* on(page, async () => {
        // The change shows as it happens, beside the edit, which it does not replace.
        await waitForText(page.locator("#stale-text"), "Key \"doc\" changed at version " + theirs + " while you edit it: saving your edit now would be refused.")
        expect(await page.locator("#value").inputValue()).toBe("{ \"by\": \"me\" }")
        await page.getByRole("button", { name: "Save" }).click()
        await waitForText(
          page.locator("#conflict-text"),
          `Not saved: key "doc" changed since you read it at version ${read}; it is at version ${theirs} now, shown below. ` +
            "Nothing was overwritten."
        )
        expect(JSON.parse(await page.locator("#value").inputValue())).toEqual({ by: "someone else" })
        await waitForText(page.locator("#key-meta"), new RegExp(`^version ${theirs} `))
        await page.getByText("Your edit, not saved").click()
        expect(await page.locator("#draft").textContent()).toBe("{ \"by\": \"me\" }")
      })
      expect(yield* get("conflicts", "doc")).toEqual({ status: 200, value: { by: "someone else" }, version: theirs })
      // Putting the edit back and saving writes over the version now shown: a choice made knowingly.
      yield* on(page, async () => {
        await page.getByRole("button", { name: "Put my edit back in the editor" }).click()
        await page.getByRole("button", { name: "Save" }).click()
        await waitForText(page.locator("#notice"), `Saved "doc" at version ${theirs + 1}.`)
      })
      expect((yield* get("conflicts", "doc")).value).toEqual({ by: "me" })
    }))

  it.scoped("asks before leaving an edit that is not saved", () =>
    Effect.gen(function*() {
      yield* put("drafts", "a", 1)
      yield* put("drafts", "b", 2)
      const page = yield* openConsole("#/stores/drafts/keys/a")
      yield* on(page, async () => {
        await until("the value of a", () => page.locator("#value").inputValue(), (value) => value === "1")
        await page.locator("#value").fill("10")
        await page.locator("#key-list a[title=b]").click()
        const dialog = page.getByRole("dialog", { name: "Leave without saving?" })
        await dialog.getByRole("button", { name: "Cancel" }).click()
        await dialog.waitFor({ state: "hidden" })
        expect([await page.locator("#key-title").textContent(), await page.locator("#value").inputValue()]).toEqual(["a", "10"])
        expect(page.url()).toMatch(/#\/stores\/drafts\/keys\/a$/)
        await page.locator("#key-list a[title=b]").click()
        await dialog.getByRole("button", { name: "Leave" }).click()
        await until("the value of b", () => page.locator("#value").inputValue(), (value) => value === "2")
      })
      expect((yield* get("drafts", "a")).value).toBe(1)
    }))

  it.scoped("creates a key only where none is, and deletes one after a confirmation", () =>
    Effect.gen(function*() {
      yield* put("making", "taken", "first")
      const page = yield* openConsole("#/stores/making")
      yield* on(page, async () => {
        await page.getByRole("link", { name: "New key" }).click()
        await page.locator("#key-name").fill("fresh")
        await page.locator("#value").fill("[1, 2, 3]")
        await page.getByRole("button", { name: "Save" }).click()
        await waitForText(page.locator("#notice"), /^Saved "fresh" at version \d+\.$/)
        await page.locator("#key-list a[title=fresh]").waitFor()
      })
      expect((yield* get("making", "fresh")).value).toEqual([1, 2, 3])
      yield* on(page, async () => {
        await page.getByRole("link", { name: "New key" }).click()
        await page.locator("#key-name").fill("taken")
        await page.locator("#value").fill("\"second\"")
        await page.getByRole("button", { name: "Save" }).click()
        await waitForText(page.locator("#conflict-text"), /^Not saved: key "taken" exists already, at version \d+, shown below\. Nothing was overwritten\.$/)
        expect(await page.locator("#value").inputValue()).toBe("\"first\"")
      })
      expect((yield* get("making", "taken")).value).toBe("first")
      yield* on(page, async () => {
        await page.locator("#key-list a[title=fresh]").click()
        await waitForText(page.locator("#key-title"), "fresh")
        await until("the value of fresh", () => page.locator("#value").inputValue(), (value) => value !== "")
        await page.getByRole("button", { name: "Delete…" }).click()
        const dialog = page.getByRole("dialog", { name: "Delete key \"fresh\"?" })
        await dialog.getByRole("button", { name: "Cancel" }).click()
        await dialog.waitFor({ state: "hidden" })
      })
      expect((yield* get("making", "fresh")).status).toBe(200)
      yield* on(page, async () => {
        await page.getByRole("button", { name: "Delete…" }).click()
        await page.getByRole("dialog").getByRole("button", { name: "Delete key" }).click()
        await waitForText(page.locator("#notice"), "Deleted \"fresh\".")
        await page.locator("#key-list a[title=fresh]").waitFor({ state: "detached" })
      })
      expect((yield* get("making", "fresh")).status).toBe(404)
    }))

  it.scoped("drops a store only once its name is typed", () =>
    Effect.gen(function*() {
      yield* put("doomed", "k", 1)
      const base = yield* Browser.Base
      const page = yield* openConsole("#/stores/doomed")
      yield* on(page, async () => {
        await waitForText(page.locator("#store-info"), /^1 key/)
        await page.getByRole("button", { name: "Drop store…" }).click()
        const dialog = page.getByRole("dialog", { name: "Drop store \"doomed\"?" })
        const drop = dialog.getByRole("button", { name: "Drop store" })
        expect(await drop.isDisabled()).toBe(true)
        await dialog.getByLabel("Type \"doomed\" to confirm").fill("doome")
        expect(await drop.isDisabled()).toBe(true)
        await dialog.getByLabel("Type \"doomed\" to confirm").fill("doomed")
        await drop.click()
        await waitForText(page.locator("#notice"), "Dropped store \"doomed\".")
        await page.locator("#store-list a[title=doomed]").waitFor({ state: "detached" })
      })
      expect(((yield* request(base, "GET", "/stores")).json as { stores: Array<string> }).stores).not.toContain("doomed")
    }))

  it.scoped("edits a value at the size limit: shown formatted, sent compact", () =>
    Effect.gen(function*() {
      // About 0.9 MiB as JSON, well over 1 MiB formatted: the body limit is 1 MiB.
      const big = Array.from({ length: 45_000 }, (_, i) => ({ i, tag: "x" }))
      expect(JSON.stringify(big).length).toBeGreaterThan(900_000)
      expect(JSON.stringify(big, null, 2).length).toBeGreaterThan(1024 * 1024)
      const version = yield* put("large", "big", big)
      const page = yield* openConsole("#/stores/large/keys/big")
      yield* on(page, async () => {
        await waitForText(page.locator("#key-meta"), new RegExp(`^version ${version} · [\\d.]+ KiB$`))
        // Laid out only when asked for: a textarea of megabytes takes a browser seconds.
        await waitForText(page.locator("#large-text"), /^The value is [\d.]+ KiB, [\d.]+ MiB formatted/)
        expect(await page.locator("#value").isVisible()).toBe(false)
        await page.getByRole("button", { name: "Show and edit it" }).click()
        const value = page.locator("#value")
        await value.evaluate((element, text) => {
          const area = element as unknown as { value: string }
          area.value = area.value.replace("\"tag\": \"x\"", text)
        }, "\"tag\": \"edited\"")
        await value.press("Control+s")
        await waitForText(page.locator("#notice"), `Saved "big" at version ${version + 1}.`)
      })
      const saved = yield* get("large", "big")
      expect((saved.value as typeof big)[0]).toEqual({ i: 0, tag: "edited" })
      expect((saved.value as typeof big).length).toBe(big.length)
    }))

  describe("layout", () => {
    // Readable: nothing wider than the window, so nothing needs a sideways scroll.
    const overflow = "document.documentElement.scrollWidth - window.innerWidth"

    it.scoped("at 1280×800 the stores, the keys and the value show side by side", () =>
      Effect.gen(function*() {
        yield* put("wide", "k", { a: 1 })
        const page = yield* openConsole("#/stores/wide/keys/k")
        yield* on(page, async () => {
          await until("the value", () => page.locator("#value").inputValue(), (value) => value !== "")
          for (const pane of ["#stores-pane", "#keys-pane", "#key-pane"]) expect(await page.locator(pane).isVisible()).toBe(true)
          expect(await page.evaluate(overflow)).toBe(0)
        })
      }))

    it.scoped("on a phone-sized window one pane shows at a time, with a way back", () =>
      Effect.gen(function*() {
        yield* put("narrow", "k", { a: 1 })
        const page = yield* openConsole("#/stores/narrow/keys/k", { width: 390, height: 844 })
        yield* on(page, async () => {
          await until("the value", () => page.locator("#value").inputValue(), (value) => value !== "")
          expect(await page.locator("#keys-pane").isVisible()).toBe(false)
          expect(await page.evaluate(overflow)).toBe(0)
          await page.getByRole("link", { name: "← Keys" }).click()
          await page.locator("#key-list a[title=k]").waitFor()
          expect(await page.locator("#key-pane").isVisible()).toBe(false)
          await page.getByRole("link", { name: "← Stores" }).click()
          await page.locator("#store-list a[title=narrow]").waitFor()
          expect(await page.evaluate(overflow)).toBe(0)
        })
      }))
  })
})
