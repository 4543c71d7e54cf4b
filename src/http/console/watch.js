// @ts-check
/**
 * Follows a store's changes live over `GET /stores/{store}/watch`, read with `fetch` (to send the
 * token) and `sse.js`. A dropped connection is opened again from the last version seen
 * (`Last-Event-ID`), so nothing is missed or repeated. When the server cannot resume (history
 * compacted, the watcher lagged, or the version no longer exists because the store was dropped)
 * or ends the stream (the store was dropped, the server is stopping), the console reads the store
 * again and follows from the version it read: a dropped store may have been written again since,
 * from version 1, where resuming by version would miss its new changes.
 */
import * as api from "./api.js"
import { sseParser } from "./sse.js"

/**
 * One change, as the watch sends it; an atomic write comes as its changes, one by one, each with
 * the write's version. `expiresAt`: epoch milliseconds, `undefined` for none.
 * @typedef {{ kind: "put", key: string, value: unknown, version: number, expiresAt: number | undefined }
 *   | { kind: "delete" | "expire", key: string, version: number }
 *   | { kind: "touch", key: string, version: number, expiresAt: number | undefined }
 *   | { kind: "clear", version: number }} Change
 */

/**
 * Where the following stands, for the person: `live`, `connecting` (again, after a dropped
 * connection), or `off` with why (a refusal that trying again will not cure).
 * @typedef {{ state: "live" | "connecting" } | { state: "off", reason: string }} WatchState
 */

/**
 * What the watch tells.
 * @typedef {object} Listener
 * @property {(change: Change) => void} change a change, in version order
 * @property {(lagged: boolean) => Promise<number>} relist reads again what is shown (`lagged`: as
 *   this tab fell behind the store's changes); resolves to the store's version it read, to follow
 *   from, or rejects when it could not be read
 * @property {(state: WatchState) => void} state
 */

const firstRetry = 500
const lastRetry = 10_000

/**
 * The `data:` of an event, as the server writes it (see the README's "Watching over HTTP").
 * @typedef {{ key: string, value?: unknown, version: number, expiresAt?: number | null,
 *   changes?: Array<{ op: "put" | "delete", key: string, value?: unknown, expiresAt?: number }> }} EventData
 */

/**
 * The changes one event carries.
 * @param {string} type
 * @param {EventData} data
 * @returns {Array<Change>}
 */
const changesOf = (type, data) => {
  const version = data.version
  switch (type) {
    case "put":
      return [{ kind: "put", key: data.key, value: data.value, version, expiresAt: data.expiresAt ?? undefined }]
    case "delete":
    case "expire":
      return [{ kind: type, key: data.key, version }]
    case "touch":
      return [{ kind: "touch", key: data.key, version, expiresAt: data.expiresAt ?? undefined }]
    case "clear":
      return [{ kind: "clear", version }]
    case "atomic":
      return (data.changes ?? []).map((change) =>
        change.op === "put"
          ? { kind: "put", key: change.key, value: change.value, version, expiresAt: change.expiresAt ?? undefined }
          : { kind: "delete", key: change.key, version }
      )
    default:
      // An event a newer server sends that this console does not know: the next re-read shows its effect.
      return []
  }
}

/** @param {number} ms */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Follows `store`'s changes after `since` until the returned function is called.
 * @param {string} store
 * @param {number} since
 * @param {Listener} listener
 * @returns {() => void} stops following
 */
export const follow = (store, since, listener) => {
  const controller = new AbortController()
  const { signal } = controller
  let last = since
  let retry = firstRetry

  /** Reads one connection's events until it ends; resolves to whether it ended as the watcher lagged. */
  const read = async (/** @type {ReadableStream<Uint8Array>} */ body) => {
    let lagged = false
    const parser = sseParser((event) => {
      // The server's only error event is WatchLagged (HistoryCompacted, from another server): read again.
      if (event.type === "error") lagged = true
      if (lagged) return
      for (const change of changesOf(event.type, /** @type {EventData} */ (JSON.parse(event.data)))) listener.change(change)
    })
    const reader = body.getReader()
    const decoder = new TextDecoder()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done || signal.aborted || lagged) return lagged
        parser.push(decoder.decode(value, { stream: true }))
        const id = Number(parser.lastId())
        if (parser.lastId() !== "" && Number.isSafeInteger(id)) last = id
      }
    } finally {
      void reader.cancel().catch(() => undefined)
    }
  }

  const run = async () => {
    /** Whether what is shown must be read again before following on. */
    let stale = false
    /** Whether the last connection ended as this tab lagged: the next waits longer, not to re-read a busy store every half second. */
    let lagged = false
    while (!signal.aborted) {
      try {
        if (stale) {
          last = await listener.relist(lagged)
          stale = false
        }
        const response = await api.openWatch(store, last, signal)
        if (response.ok && response.body !== null) {
          listener.state({ state: "live" })
          if (!lagged) retry = firstRetry
          lagged = false
          lagged = await read(response.body)
          stale = true
        } else if (response.status !== 503) {
          const refusal = await api.failure(response)
          // 410: history compacted; 400 InvalidQuery: no such version (the store was dropped meanwhile).
          if (response.status !== 410 && refusal.error !== "InvalidQuery") return listener.state({ state: "off", reason: refusal.message })
          stale = true
        }
      } catch (error) {
        if (signal.aborted) return
        // A token the person declined: asking again on every retry would not help.
        if (error instanceof api.ApiError && error.status === 401) return listener.state({ state: "off", reason: error.message })
        // Else the network dropped, or the store could not be read: again, from where it stood.
      }
      if (signal.aborted) return
      listener.state({ state: "connecting" })
      await pause(retry)
      retry = Math.min(retry * 2, lastRetry)
    }
  }

  listener.state({ state: "connecting" })
  void run()
  return () => controller.abort()
}
