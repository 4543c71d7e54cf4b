/**
 * The web console follows the open store live: changes made over HTTP while it is open show in
 * the page of keys and in the open key as they happen, expiry included; and a key's expiry is
 * shown and set from the console. A real server on 127.0.0.1 and Debian's Chromium, headless.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { Page } from "playwright-core"
import { KV } from "../../src/kv/KV.js"
import * as Browser from "./browser.js"
import { on, openConsole, put, until, waitForText } from "./browser.js"
import { request, segment } from "./server.js"

const send = (method: string, path: string, body?: unknown) =>
  Effect.flatMap(Browser.Base, (base) =>
    Effect.map(request(base, method, path, body === undefined ? {} : { body }), (reply) => {
      if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${reply.text}`)
      return reply
    }))

/** The keys the page shows, in order, and what a live change did to each. */
const rows = (page: Page) =>
  page.locator("#key-list a").evaluateAll((links) =>
    links.map((link) => `${link.getAttribute("title")}${link.hasAttribute("data-state") ? ` ${link.querySelector(".detail")?.textContent}` : ""}`)
  )

const rowsAre = (page: Page, expected: ReadonlyArray<string>) =>
  until(`the keys ${JSON.stringify(expected)}`, () => rows(page), (shown) => JSON.stringify(shown) === JSON.stringify(expected))

const expiresAt = (store: string, key: string) =>
  Effect.map(send("GET", `/stores/${segment(store)}/keys/${segment(key)}`), (reply) => reply.headers.get("kv-expires-at"))

layer(Browser.layer(), { excludeTestServices: true })("web console, live", (it) => {
  it.scoped("a put, a delete and an atomic write over HTTP show in the page and the open key as they happen", () =>
    Effect.gen(function*() {
      for (const key of ["a", "b", "c"]) yield* put("live", key, key)
      const page = yield* openConsole("#/stores/live/keys/b")
      yield* on(page, async () => {
        await until("the value of b", () => page.locator("#value").inputValue(), (value) => value === "\"b\"")
        await waitForText(page.locator("#live"), "Live")
        await rowsAre(page, ["a", "b", "c"])
      })
      yield* put("live", "b2", "new")
      yield* on(page, () => rowsAre(page, ["a", "b", "b2 new", "c"]))
      const changed = yield* put("live", "b", { v: 2 })
      yield* on(page, async () => {
        await until("the new value of b", () => page.locator("#value").inputValue(), (value) => value === JSON.stringify({ v: 2 }, null, 2))
        await waitForText(page.locator("#key-meta"), `version ${changed} · 7 B`)
        await waitForText(page.locator("#notice"), `Key "b" changed at version ${changed}.`)
        await rowsAre(page, ["a", "b changed", "b2 new", "c"])
      })
      yield* send("DELETE", "/stores/live/keys/a")
      yield* send("POST", "/stores/live/atomic", { ops: [{ op: "put", key: "d", value: 4 }, { op: "delete", key: "c" }] })
      yield* on(page, () => rowsAre(page, ["a deleted", "b changed", "b2 new", "c deleted", "d new"]))
      yield* send("DELETE", "/stores/live/keys/b")
      yield* on(page, async () => {
        await waitForText(page.locator("#key-meta"), "Absent: saving creates it.")
        await waitForText(page.locator("#notice"), "Key \"b\" was deleted: saving creates it again.")
        expect(await page.locator("#value").inputValue()).toBe("")
        await rowsAre(page, ["a deleted", "b deleted", "b2 new", "c deleted", "d new"])
        // The count is read again after changes: an event does not say whether its key is new.
        await waitForText(page.locator("#store-info"), /^2 keys · version \d+$/)
      })
    }))

  it.scoped("a new key shows where it sorts within the page; a change elsewhere is only counted", () =>
    Effect.gen(function*() {
      const keys = Array.from({ length: 150 }, (_, i) => `k${String(i).padStart(3, "0")}`)
      yield* Effect.forEach(keys, (key) => put("ranges", key, 0), { concurrency: 16, discard: true })
      const page = yield* openConsole("#/stores/ranges")
      yield* on(page, async () => {
        await waitForText(page.locator("#page-label"), "Keys 1–100")
        await waitForText(page.locator("#live"), "Live")
      })
      yield* put("ranges", "k0505", 1)
      yield* put("ranges", "k120x", 1)
      yield* put("ranges", "a", 1)
      yield* on(page, async () => {
        await until("the new keys on the page", () => rows(page), (shown) =>
          JSON.stringify(shown) === JSON.stringify(["a new", ...keys.slice(0, 51), "k0505 new", ...keys.slice(51, 100)]))
        await waitForText(page.locator("#keys-elsewhere"), "1 change to keys not on this page since it was read.")
        await page.getByRole("button", { name: "Next →" }).click()
        await waitForText(page.locator("#page-label"), "Keys 101–151")
        expect(await rows(page)).toEqual([...keys.slice(100, 121), "k120x", ...keys.slice(121)])
        expect(await page.locator("#keys-elsewhere").isVisible()).toBe(false)
      })
    }))

  it.scoped("a key's expiry: shown counting down, set and removed from the console, kept by a save, and its expiry shown live", () =>
    Effect.gen(function*() {
      yield* put("ttl", "k", 1)
      const page = yield* openConsole("#/stores/ttl/keys/k")
      yield* on(page, async () => {
        await until("the value", () => page.locator("#value").inputValue(), (value) => value === "1")
        await waitForText(page.locator("#expiry-text"), "never")
        await page.getByLabel("Seconds until it expires").fill("3600")
        await page.getByLabel("Seconds until it expires").press("Enter")
        await waitForText(page.locator("#expiry-text"), /^in (59 min \d+ s|1 h 0 min) \(/)
        await waitForText(page.locator("#notice"), "\"k\" expires in 3,600 s.")
      })
      const set = Number(yield* expiresAt("ttl", "k"))
      expect(set).toBeGreaterThan(Date.now() + 3_500_000)
      // A save sends the time left with the value: a put without one would remove the expiry.
      yield* on(page, async () => {
        await page.locator("#value").fill("2")
        await page.locator("#value").press("Control+s")
        await waitForText(page.locator("#notice"), /^Saved "k" at version \d+\.$/)
      })
      const kept = Number(yield* expiresAt("ttl", "k"))
      expect(Math.abs(kept - set)).toBeLessThan(60_000)
      yield* on(page, async () => {
        await page.getByRole("button", { name: "Never expire" }).click()
        await waitForText(page.locator("#expiry-text"), "never")
      })
      expect(yield* expiresAt("ttl", "k")).toBe(null)

      // Set over HTTP while an edit is in progress: the expiry shows, and the edit can still be saved.
      yield* on(page, () => page.locator("#value").fill("3"))
      yield* send("PUT", "/stores/ttl/keys/k/ttl", { ttl: 4 })
      yield* on(page, async () => {
        await waitForText(page.locator("#expiry-text"), /^(in [1-4] s|now) \(/)
        await waitForText(page.locator("#key-list a[title=k] .detail"), "expiry changed")
        await page.locator("#value").press("Control+s")
        await waitForText(page.locator("#notice"), /^Saved "k" at version \d+\.$/)
      })
      yield* on(page, async () => {
        // The store expires it: the page and the key say so.
        await waitForText(page.locator("#key-list a[title=k] .detail"), "expired")
        await waitForText(page.locator("#notice"), "Key \"k\" expired: saving creates it again.")
        await waitForText(page.locator("#key-meta"), "Absent: saving creates it.")
      })
    }))

  it.scoped("a store dropped and written again while open: read again and followed on", () =>
    Effect.gen(function*() {
      yield* put("again", "old", 1)
      yield* put("again", "older", 1)
      const page = yield* openConsole("#/stores/again")
      yield* on(page, async () => {
        await rowsAre(page, ["old", "older"])
        await waitForText(page.locator("#live"), "Live")
      })
      yield* send("DELETE", "/stores/again")
      // Version 1 of the store as it is now: resuming from the last version seen would miss it.
      yield* put("again", "fresh", 1)
      yield* on(page, async () => {
        // Read again after the write ("fresh"), or before it and then followed ("fresh new").
        await until("the store as it is now", () => rows(page), (shown) => ["[\"fresh\"]", "[\"fresh new\"]"].includes(JSON.stringify(shown)))
        await waitForText(page.locator("#store-info"), /^1 key · version 1$/)
        await waitForText(page.locator("#live"), "Live")
      })
      yield* put("again", "fresher", 1)
      yield* on(page, () => rowsAre(page, ["fresh", "fresher new"]))
    }))

  it.scoped("reads Server-Sent Events in any pieces, as the standard says", () =>
    Effect.gen(function*() {
      const page = yield* openConsole()
      const parsed = yield* on(page, (page) =>
        page.evaluate(`(async () => {
          const { sseParser } = await import("/ui/sse.js")
          const text = "id: 4\\r\\n\\r\\n: keep-alive\\n\\nid: 5\\nevent: put\\ndata: {\\"a\\":\\ndata: 1}\\r\\rdata:x\\n\\nevent: error\\ndata: {}\\n\\n"
          const run = (pieces) => {
            const events = []
            const parser = sseParser((event) => events.push(event))
            for (const piece of pieces) parser.push(piece)
            return [events, parser.lastId()]
          }
          const whole = run([text])
          const split = run(Array.from(text))
          return [whole, JSON.stringify(split) === JSON.stringify(whole)]
        })()`))
      expect(parsed).toEqual([
        [
          [
            { type: "put", data: "{\"a\":\n1}", id: "5" },
            { type: "message", data: "x", id: "5" },
            { type: "error", data: "{}", id: "5" }
          ],
          "5"
        ],
        true
      ])
    }))
})

layer(Browser.layer({}, KV.layerMemory({ watchBuffer: 1 })), { excludeTestServices: true })("web console, live, behind", (it) => {
  it.scoped("a tab that falls behind the store's changes reads its page again and follows on", () =>
    Effect.gen(function*() {
      yield* put("fast", "k", 0)
      const page = yield* openConsole("#/stores/fast")
      yield* on(page, async () => {
        await rowsAre(page, ["k"])
        await waitForText(page.locator("#live"), "Live")
      })
      // Writes in bursts until the server says the tab lagged: a watcher here may be 1 change behind,
      // and a burst's writes are mostly committed as one batch, published at once.
      const told = () => on(page, async () => (await page.locator("#notice").textContent())?.includes("changed faster") === true)
      let written = 1
      for (let round = 0; !(yield* told()); round++) {
        if (round === 500) throw new Error("the server never told the tab it lagged")
        yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => `k${round}-${i}`), (key) => put("fast", key, 1), { concurrency: 8, discard: true })
        written += 8
      }
      yield* on(page, async () => {
        await waitForText(page.locator("#notice"), "Store \"fast\" changed faster than this tab could follow: its page was read again.")
        await waitForText(page.locator("#live"), "Live")
        await waitForText(page.locator("#store-info"), new RegExp(`^${written.toLocaleString("en")} keys · `))
      })
      // Followed on: a key written now shows as it happens.
      yield* put("fast", "a", 1)
      yield* on(page, () => until("the new key", () => rows(page), (shown) => shown[0] === "a new"))
    }))
})
