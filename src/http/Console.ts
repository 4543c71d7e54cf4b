/**
 * The web console: a page at `GET /ui` where a person browses stores, pages through keys, edits
 * values with compare-and-set, sets their expiry, follows the open store live (its watch stream)
 * and sees the server's health (its metrics). It is plain files (`console/` beside this module:
 * HTML, CSS and ES modules, no framework) that the browser runs as they are, and it calls only
 * the public HTTP API, same-origin, with the token the person gives it.
 *
 * The files are read once when the server starts and answered from memory, each with an `ETag`
 * (a `304` when the browser has it already) and, for the page, a Content-Security-Policy that
 * lets it load and call nothing but this server.
 *
 * @since 0.2.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"
import { respond } from "./Errors.js"
import type { Route } from "./Middleware.js"

/**
 * Where the console's page is.
 *
 * @since 0.2.0
 * @category constants
 */
export const path = "/ui"

/**
 * The routes the console answers, for the server's 404 and 405 answers.
 *
 * @since 0.2.0
 * @category constants
 */
export const routes: ReadonlyArray<Route> = [{ method: "GET", path }, { method: "GET", path: `${path}/:file` }]

// `src/http/console/` when run from the sources, its copy in `dist/` (`npm run build`) from the build.
const folder = fileURLToPath(new URL("./console/", import.meta.url))

const page = "index.html"

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8"
}

const extensionOf = (file: string) => file.slice(file.lastIndexOf("."))

// The page may load and call this server only, and be framed by no one.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** A file's answer, made once: the bytes and headers, and the 304 for a browser that has them. */
const answerOf = (file: string, bytes: Uint8Array) => {
  const etag = `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 16)}"`
  const headers: Record<string, string> = {
    etag,
    // Kept, but checked on every load: a new version of the server is picked up at once.
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    ...(file === page ? { "content-security-policy": contentSecurityPolicy } : {})
  }
  const ok = HttpServerResponse.uint8Array(bytes, { contentType: contentTypes[extensionOf(file)]!, headers })
  const notModified = HttpServerResponse.empty({ status: 304, headers: { etag, "cache-control": "no-cache" } })
  return Effect.map(HttpServerRequest.HttpServerRequest, (request) => request.headers["if-none-match"] === etag ? notModified : ok)
}

const missing = (file: string) =>
  respond(404, {
    error: "NotFound",
    message: `the console has no file ${JSON.stringify(file.slice(0, 100))}; open the console at ${path}`
  })

/**
 * Serves the console on the API's router: `GET /ui` and the files it loads, `GET /ui/<file>`.
 * A build without the console's files fails to start, saying so.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<never, never, FileSystem.FileSystem> = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const files = (yield* fs.readDirectory(folder)).filter((file) => extensionOf(file) in contentTypes)
    const answers = new Map<string, ReturnType<typeof answerOf>>()
    for (const file of files) answers.set(file, answerOf(file, yield* fs.readFile(`${folder}${file}`)))
    const index = answers.get(page)
    if (index === undefined) return yield* Effect.dieMessage(`the console's ${page} is not in ${folder}; build the package again (npm run build)`)
    answers.delete(page)
    yield* router.get(path, index)
    yield* router.get(
      `${path}/:file`,
      Effect.flatMap(HttpRouter.params, (params) => answers.get(params["file"] ?? "") ?? Effect.succeed(missing(params["file"] ?? "")))
    )
  }).pipe(
    Effect.catchTag("SystemError", "BadArgument", (error) =>
      Effect.dieMessage(`the console's files cannot be read from ${folder} (${error.message}); build the package again (npm run build)`))
  )
)
