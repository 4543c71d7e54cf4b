/**
 * Test helpers for the web console: Debian's Chromium, headless, driven by playwright-core (its
 * own browser download cannot work here), and a real server on a free port of 127.0.0.1.
 */
import { Context, Effect, Layer } from "effect"
import { type Browser as PlaywrightBrowser, chromium, type Locator, type Page } from "playwright-core"
import { KV } from "../../src/kv/KV.js"
import type * as Server from "../../src/http/Server.js"
import { request, segment, serve } from "./server.js"

/** The headless browser of a test file. */
export class Browser extends Context.Tag("test/Browser")<Browser, PlaywrightBrowser>() {
  static layer = Layer.scoped(
    Browser,
    Effect.acquireRelease(
      Effect.promise(() =>
        chromium.launch({
          executablePath: "/usr/bin/chromium",
          args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        })
      ),
      (browser) => Effect.promise(() => browser.close())
    )
  )
}

/** The base URL of the test file's server, on `kv` (memory by default). */
export class Base extends Context.Tag("test/Base")<Base, string>() {
  static layer = (options: Server.ServerOptions = {}, kv: Layer.Layer<KV, unknown> = KV.layerMemory()) =>
    Layer.scoped(Base, serve(options, kv))
}

/** A browser and a server, one of each per test file. */
export const layer = (options: Server.ServerOptions = {}, kv?: Layer.Layer<KV, unknown>) =>
  Layer.merge(Browser.layer, Base.layer(options, kv))

/**
 * A new tab, with no state from another (its own `sessionStorage`), sized as asked, at the
 * console's `hash`; it closes with the scope. Errors of the page's scripts fail the test.
 */
export const openConsole = (hash = "#/", viewport = { width: 1280, height: 800 }) =>
  Effect.gen(function*() {
    const browser = yield* Browser
    const base = yield* Base
    const context = yield* Effect.acquireRelease(
      Effect.promise(() => browser.newContext({ viewport })),
      (context) => Effect.promise(() => context.close())
    )
    const page = yield* Effect.promise(() => context.newPage())
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    yield* Effect.addFinalizer(() => errors.length === 0 ? Effect.void : Effect.dieMessage(`the page failed: ${errors.join("; ")}`))
    yield* Effect.promise(() => page.goto(`${base}/ui${hash}`))
    return page
  })

/** Runs steps on a page, as the promises Playwright gives. */
export const on = <A>(page: Page, steps: (page: Page) => Promise<A>) => Effect.promise(() => steps(page))

/** Puts `value` at `key` of `store` over HTTP; returns the new version. */
export const put = (store: string, key: string, value: unknown, headers: Record<string, string> = {}) =>
  Effect.flatMap(Base, (base) =>
    Effect.map(
      request(base, "PUT", `/stores/${segment(store)}/keys/${segment(key)}`, { body: value, headers }),
      (reply) => {
        if (reply.status !== 200) throw new Error(`PUT ${store}/${key}: ${reply.status} ${reply.text}`)
        return (reply.json as { version: number }).version
      }
    ))

/** Reads `key` of `store` over HTTP: its status, value and version. */
export const get = (store: string, key: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(Base, (base) =>
    Effect.map(request(base, "GET", `/stores/${segment(store)}/keys/${segment(key)}`, { headers }), (reply) => ({
      status: reply.status,
      value: reply.json,
      version: Number(reply.headers.get("etag")?.replaceAll("\"", ""))
    })))

/** Waits until `locator` (its first match) shows `text`: a string is matched whole, after trimming. */
export const waitForText = (locator: Locator, text: string | RegExp) =>
  locator.filter({ hasText: typeof text === "string" ? new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`) : text })
    .first().waitFor()

/** Reads `read` until `ok` holds of what it gives; gives up after a long while, saying what it waited for. */
export const until = async <A>(what: string, read: () => Promise<A>, ok: (a: A) => boolean): Promise<A> => {
  for (let attempt = 0;; attempt++) {
    const value = await read()
    if (ok(value)) return value
    if (attempt === 1200) throw new Error(`gave up waiting for ${what}; last seen: ${JSON.stringify(value)?.slice(0, 300)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
