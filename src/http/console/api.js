// @ts-check
/**
 * The console's calls to effect-kv's public HTTP API, same-origin. The server's token, when it
 * wants one, is asked for once and kept in `sessionStorage`: this tab only, gone when it closes.
 */

/** A refusal of the API: its status and its `{ error, message }` body. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} error
   * @param {string} message
   */
  constructor(status, error, message) {
    super(message)
    this.status = status
    this.error = error
  }
}

const tokenKey = "effect-kv.token"

/** The token this tab holds, if any. */
export const storedToken = () => sessionStorage.getItem(tokenKey)

/** Forgets the token: the next call that needs one asks again. */
export const forgetToken = () => sessionStorage.removeItem(tokenKey)

/**
 * Asks the person for a token; `refused` says whether the last one was wrong. Resolves to the
 * token, or to `undefined` when they decline.
 * @type {(refused: boolean) => Promise<string | undefined>}
 */
let askForToken = async () => undefined

/** @param {(refused: boolean) => Promise<string | undefined>} ask */
export const onTokenNeeded = (ask) => {
  askForToken = ask
}

/** @type {Promise<string | undefined> | undefined} */
let asking

/**
 * Calls the API, asking for a token on a 401 and trying again with it. Calls refused together
 * share one question. With `ask: false` a 401 is answered as it is: a call made on a timer must
 * not put the question to the person again and again.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: string, headers?: Record<string, string>, signal?: AbortSignal, ask?: boolean }} [options]
 * @returns {Promise<Response>}
 */
export const call = async (method, path, options = {}) => {
  for (;;) {
    const token = storedToken()
    /** @type {Record<string, string>} */
    const headers = { ...options.headers }
    if (token !== null) headers["authorization"] = `Bearer ${token}`
    if (options.body !== undefined) headers["content-type"] = "application/json"
    const response = await fetch(path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })
    if (response.status !== 401 || options.ask === false) return response
    // Another call may have been given a token meanwhile: try that one first.
    if (storedToken() !== token) continue
    asking ??= askForToken(token !== null).finally(() => {
      asking = undefined
    })
    const given = await asking
    if (given === undefined) throw await failure(response)
    sessionStorage.setItem(tokenKey, given)
  }
}

/**
 * The error a refused response carries.
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export const failure = async (response) => {
  const text = await response.text()
  try {
    const body = JSON.parse(text)
    if (typeof body?.error === "string" && typeof body?.message === "string") {
      return new ApiError(response.status, body.error, body.message)
    }
  } catch {
    // Not one of the API's answers (a proxy's page, say): say what came back.
  }
  return new ApiError(response.status, "HttpError", `the server answered ${response.status} ${response.statusText}`)
}

/**
 * The JSON body of a successful response; a refusal throws its `ApiError`.
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
const json = async (response) => {
  if (!response.ok) throw await failure(response)
  return response.json()
}

/** @param {string} store */
const storePath = (store) => `/stores/${encodeURIComponent(store)}`

/**
 * @param {string} store
 * @param {string} key
 */
const keyPath = (store, key) => `${storePath(store)}/keys/${encodeURIComponent(key)}`

/** @param {string | null} etag */
const versionOf = (etag) => Number(/^"(\d+)"$/.exec(etag ?? "")?.[1] ?? Number.NaN)

/** @returns {Promise<Array<string>>} the names of the stores that hold data, sorted */
export const listStores = async () => /** @type {{ stores: Array<string> }} */ (await json(await call("GET", "/stores"))).stores

/**
 * @param {string} store
 * @returns {Promise<{ size: number, version: number }>} its key count and version
 */
export const storeInfo = async (store) => /** @type {{ size: number, version: number }} */ (await json(await call("GET", storePath(store))))

/**
 * One page of keys, sorted; `next` is the `after` of the following page.
 * @param {string} store
 * @param {{ prefix: string, after: string | undefined, limit: number }} page
 * @param {AbortSignal} [signal]
 * @returns {Promise<{ keys: Array<string>, next: string | null }>}
 */
export const listKeys = async (store, page, signal) => {
  const query = new URLSearchParams({ limit: String(page.limit) })
  if (page.prefix !== "") query.set("prefix", page.prefix)
  if (page.after !== undefined) query.set("after", page.after)
  const response = await call("GET", `${storePath(store)}/keys?${query}`, signal === undefined ? {} : { signal })
  return /** @type {{ keys: Array<string>, next: string | null }} */ (await json(response))
}

/**
 * @typedef {object} KeyValue
 * @property {unknown} value the value
 * @property {string} text the value's JSON as the server sent it
 * @property {number} version the key's version
 * @property {number | undefined} expiresAt when the key expires (epoch milliseconds), if it does
 */

/**
 * A key's value and version, or `undefined` when the key is absent.
 * @param {string} store
 * @param {string} key
 * @returns {Promise<KeyValue | undefined>}
 */
export const readKey = async (store, key) => {
  const response = await call("GET", keyPath(store, key))
  if (response.status === 404) return undefined
  if (!response.ok) throw await failure(response)
  const text = await response.text()
  const expiresAt = response.headers.get("kv-expires-at")
  return {
    value: JSON.parse(text),
    text,
    version: versionOf(response.headers.get("etag")),
    expiresAt: expiresAt === null ? undefined : Number(expiresAt)
  }
}

/**
 * Writes `json` to the key only over `version` (`If-Match`), or only where the key is absent
 * (`version` null: `If-None-Match: *`), to expire `ttl` seconds later if given (a put without
 * one leaves the key with no expiry). Resolves to the new version, or to `"conflict"` when the
 * key is not as expected.
 * @param {string} store
 * @param {string} key
 * @param {string} json
 * @param {number | null} version
 * @param {number} [ttl]
 * @returns {Promise<number | "conflict">}
 */
export const writeKey = async (store, key, json, version, ttl) => {
  const headers = version === null ? { "if-none-match": "*" } : { "if-match": `"${version}"` }
  // Whole milliseconds: the server reads a plain decimal, never an exponent.
  const query = ttl === undefined ? "" : `?ttl=${ttl.toFixed(3)}`
  const response = await call("PUT", `${keyPath(store, key)}${query}`, { body: json, headers })
  if (response.status === 412) return "conflict"
  if (!response.ok) throw await failure(response)
  return /** @type {{ version: number }} */ (await response.json()).version
}

/**
 * Deletes the key only at `version`. Resolves to `"deleted"`, `"conflict"` (it is at another
 * version) or `"absent"`.
 * @param {string} store
 * @param {string} key
 * @param {number} version
 * @returns {Promise<"deleted" | "conflict" | "absent">}
 */
export const deleteKey = async (store, key, version) => {
  const response = await call("DELETE", keyPath(store, key), { headers: { "if-match": `"${version}"` } })
  if (response.status === 412) return "conflict"
  if (response.status === 404) return "absent"
  if (!response.ok) throw await failure(response)
  return "deleted"
}

/**
 * Stops the store and deletes its data.
 * @param {string} store
 */
export const dropStore = async (store) => {
  const response = await call("DELETE", storePath(store))
  if (!response.ok) throw await failure(response)
}

/**
 * Makes the key at `version` expire `ttl` seconds from now, or (`ttl` undefined) never. Resolves
 * to the key's new version, `"conflict"` (it is at another version) or `"absent"`.
 * @param {string} store
 * @param {string} key
 * @param {number} version
 * @param {number | undefined} ttl
 * @returns {Promise<number | "conflict" | "absent">}
 */
export const setExpiry = async (store, key, version, ttl) => {
  const headers = { "if-match": `"${version}"` }
  const response = ttl === undefined
    ? await call("DELETE", `${keyPath(store, key)}/ttl`, { headers })
    : await call("PUT", `${keyPath(store, key)}/ttl`, { headers, body: JSON.stringify({ ttl }) })
  if (response.status === 412) return "conflict"
  if (response.status === 404) return "absent"
  if (!response.ok) throw await failure(response)
  return /** @type {{ version: number }} */ (await response.json()).version
}

/**
 * The server's metrics, as Prometheus text. Never asks for the token: it is read on a timer,
 * with the token the tab holds.
 * @returns {Promise<string>}
 */
export const readMetrics = async () => {
  const response = await call("GET", "/metrics", { ask: false })
  if (!response.ok) throw await failure(response)
  return response.text()
}

/**
 * Opens the store's change feed after `since` (Server-Sent Events); the caller reads the body.
 * @param {string} store
 * @param {number} since
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export const openWatch = (store, since, signal) =>
  call("GET", `${storePath(store)}/watch`, { headers: { accept: "text/event-stream", "last-event-id": String(since) }, signal })
