/**
 * `GET /stores/{store}/entries` (a page of values with their keys, and the version to watch
 * from) and `GET /stores/{store}/export` (the whole store as JSON lines, at one version).
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { KV } from "../kv/KV.js"
import { KvApi } from "./Api.js"
import { fromKV } from "./Errors.js"
import { exportLine } from "./ExportLine.js"

/**
 * One line of an export (see `ExportLine`).
 *
 * @since 0.2.0
 */
export { exportLine } from "./ExportLine.js"

/**
 * The handlers of the `entries` group, on the `KV` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = HttpApiBuilder.group(KvApi, "entries", (handlers) =>
  Effect.map(KV, (kv) =>
    handlers
      .handle("list", ({ path, urlParams }) =>
        Effect.map(Effect.mapError(kv.entries(path.store, urlParams), fromKV), (page) => ({
          entries: page.entries.map(({ expiresAt, key, value, version }) =>
            expiresAt === undefined ? { key, value, version } : { key, value, version, expiresAt }
          ),
          next: page.next,
          version: page.version
        })))
      .handle("export", ({ path }) =>
        Effect.map(Effect.mapError(kv.exportStore(path.store), fromKV), (exported) =>
          HttpServerResponse.stream(
            Stream.fromIterable(exported.entries).pipe(
              // Each chunk of lines goes out as one write.
              Stream.mapChunks((entries) => Chunk.of(Chunk.join(Chunk.map(entries, exportLine), ""))),
              Stream.encodeText
            ),
            { contentType: "application/x-ndjson", headers: { "kv-version": String(exported.version) } }
          )))))
