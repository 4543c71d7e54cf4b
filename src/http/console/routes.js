// @ts-check
/**
 * Where the console is, in the URL's fragment: `#/`, `#/stores/<store>`,
 * `#/stores/<store>/keys/<key>`, `#/stores/<store>/new`. Names are percent-encoded, so any
 * store name or key has an address that can be bookmarked or shared.
 */

/**
 * @typedef {{ view: "stores" }
 *   | { view: "store", store: string }
 *   | { view: "key", store: string, key: string }
 *   | { view: "new", store: string }} Route
 */

const encode = encodeURIComponent

/** @param {string} store */
export const storeHref = (store) => `#/stores/${encode(store)}`

/**
 * @param {string} store
 * @param {string} key
 */
export const keyHref = (store, key) => `${storeHref(store)}/keys/${encode(key)}`

/** @param {string} store */
export const newKeyHref = (store) => `${storeHref(store)}/new`

/**
 * The route a fragment names; anything else is the list of stores.
 * @param {string} hash
 * @returns {Route}
 */
export const parseRoute = (hash) => {
  const parts = hash.replace(/^#\/?/, "").split("/")
  try {
    const [first, store, third, key, ...rest] = parts.map(decodeURIComponent)
    if (first !== "stores" || store === undefined || store === "" || rest.length > 0) return { view: "stores" }
    if (third === undefined) return { view: "store", store }
    if (third === "new" && key === undefined) return { view: "new", store }
    if (third === "keys" && key !== undefined && key !== "") return { view: "key", store, key }
  } catch {
    // A fragment that is not percent-encoded UTF-8: not one of ours.
  }
  return { view: "stores" }
}
