/**
 * One line of a store's export, as `GET /stores/{store}/export` writes it and `effect-kv export`
 * (from a server or a data folder) passes on with the store in front. A module of its own, with
 * no run-time imports, so that the CLI writes the server's lines without loading the server.
 *
 * @since 0.2.0
 */
import type { Entry } from "../storage/Change.js"

/**
 * One line of an export: `{"key","value"}`, and `"expiresAt"` (epoch milliseconds) when the key
 * expires; newline included.
 *
 * @since 0.2.0
 * @category utils
 */
export const exportLine = ([key, entry]: readonly [string, Entry]): string =>
  `{"key":${JSON.stringify(key)},"value":${JSON.stringify(entry.value)}${
    entry.expiresAt === undefined ? "" : `,"expiresAt":${entry.expiresAt}`
  }}\n`
