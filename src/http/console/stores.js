// @ts-check
/** The list of stores, each with its key count, filtered by name. */
import * as api from "./api.js"
import { byId, plural, renderLinks, roving, sayError } from "./dom.js"
import { storeHref } from "./routes.js"

const list = byId("store-list", HTMLUListElement)
const empty = byId("stores-empty", HTMLElement)
const filter = byId("store-filter", HTMLInputElement)
const refresh = byId("refresh-stores", HTMLButtonElement)

// Counts open each store on the server: only the stores shown are counted, a few at a time.
const shownAtMost = 200
const countsAtOnce = 4

/** @type {Array<string>} */
let names = []
/** @type {Map<string, number>} */
const sizes = new Map()
/** @type {string | undefined} */
let current

const render = () => {
  const wanted = filter.value.trim().toLowerCase()
  const shown = names.filter((name) => name.toLowerCase().includes(wanted)).slice(0, shownAtMost)
  renderLinks(list, shown.map((name) => {
    const size = sizes.get(name)
    return { name, href: storeHref(name), ...(size === undefined ? {} : { detail: plural(size, "key") }) }
  }), current)
  empty.hidden = names.length > 0
  return shown
}

/**
 * Counts the keys of the stores shown that are not counted yet.
 * @param {ReadonlyArray<string>} shown
 */
const countKeys = async (shown) => {
  const queue = shown.filter((name) => !sizes.has(name))
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      try {
        sizes.set(name, (await api.storeInfo(name)).size)
      } catch (error) {
        sayError(error)
        return
      }
    }
  }
  await Promise.all(Array.from({ length: countsAtOnce }, worker))
  render()
}

/** Reads the list of stores again, and their counts. */
export const reloadStores = async () => {
  try {
    names = await api.listStores()
    sizes.clear()
    await countKeys(render())
  } catch (error) {
    sayError(error)
  }
}

/**
 * Marks the store that is open.
 * @param {string | undefined} store
 */
export const showCurrentStore = (store) => {
  current = store
  render()
}

/**
 * What the console learnt of a store's count elsewhere (an open store's own count).
 * @param {string} store
 * @param {number} size
 */
export const noteStoreSize = (store, size) => {
  if (sizes.get(store) === size && names.includes(store)) return
  sizes.set(store, size)
  // A store that was empty is listed from its first key on; one emptied stays until reloaded.
  if (!names.includes(store) && size > 0) names = [...names, store].sort()
  render()
}

filter.addEventListener("input", () => void countKeys(render()))
refresh.addEventListener("click", () => void reloadStores())
roving(list)
