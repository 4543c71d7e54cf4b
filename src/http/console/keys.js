// @ts-check
/**
 * An open store: its count and version, and its keys a page at a time with a prefix filter.
 * Only the page shown is fetched, so a store of a million keys costs what one of a hundred does.
 */
import * as api from "./api.js"
import { confirmAction } from "./dialogs.js"
import { byId, plural, renderLinks, roving, say, sayError } from "./dom.js"
import { keyHref, newKeyHref } from "./routes.js"
import { noteStoreSize, reloadStores } from "./stores.js"

const pageSize = 100

const title = byId("store-title", HTMLElement)
const info = byId("store-info", HTMLElement)
const list = byId("key-list", HTMLUListElement)
const empty = byId("keys-empty", HTMLElement)
const prefixInput = byId("prefix", HTMLInputElement)
const previous = byId("prev-page", HTMLButtonElement)
const next = byId("next-page", HTMLButtonElement)
const pageLabel = byId("page-label", HTMLElement)
const newKey = byId("new-key", HTMLAnchorElement)
const drop = byId("drop-store", HTMLButtonElement)
const refresh = byId("refresh-keys", HTMLButtonElement)
const body = byId("store-body", HTMLElement)
const noStore = byId("no-store", HTMLElement)

/** @type {string | undefined} */
let store
let prefix = ""
/** The `after` of each page up to the one shown: going back needs no request to find it. */
let pages = /** @type {Array<string | undefined>} */ ([undefined])
/** @type {string | null} */
let nextAfter = null
/** @type {Array<string>} */
let keys = []
/** @type {string | undefined} */
let currentKey
/** @type {AbortController | undefined} */
let pending

/** The store that is open, if any. */
export const openedStore = () => store

const render = () => {
  if (store === undefined) return
  renderLinks(list, keys.map((key) => ({ name: key, href: keyHref(store ?? "", key) })), currentKey)
  const first = (pages.length - 1) * pageSize
  const within = prefix === "" ? "" : ` starting with "${prefix}"`
  empty.hidden = keys.length > 0
  empty.textContent = pages.length > 1 ? "No more keys." : prefix === "" ? "This store holds no keys." : `No key starts with "${prefix}".`
  pageLabel.textContent = keys.length === 0 ? "" : `Keys${within} ${(first + 1).toLocaleString("en")}–${(first + keys.length).toLocaleString("en")}`
  previous.disabled = pages.length === 1
  next.disabled = nextAfter === null
}

/** Fetches the page whose `after` is last in `pages`. */
const loadPage = async () => {
  if (store === undefined) return
  pending?.abort()
  const controller = new AbortController()
  pending = controller
  try {
    const page = await api.listKeys(store, { prefix, after: pages[pages.length - 1], limit: pageSize }, controller.signal)
    if (controller.signal.aborted) return
    keys = page.keys
    nextAfter = page.next
    render()
  } catch (error) {
    sayError(error)
  }
}

/** Fetches the store's count and version. */
export const loadInfo = async () => {
  const name = store
  if (name === undefined) return
  try {
    const { size, version } = await api.storeInfo(name)
    if (name !== store) return
    info.textContent = `${plural(size, "key")} · version ${version.toLocaleString("en")}`
    noteStoreSize(name, size)
  } catch (error) {
    sayError(error)
  }
}

/** Reads the store's count and the page shown again. */
export const reloadStore = () => Promise.all([loadInfo(), loadPage()])

/**
 * Opens `name` at its first page, unless it is open already.
 * @param {string | undefined} name
 */
export const openStore = async (name) => {
  if (name === store) return
  store = name
  pending?.abort()
  keys = []
  nextAfter = null
  pages = [undefined]
  prefix = prefixInput.value = ""
  info.textContent = ""
  list.replaceChildren()
  body.hidden = refresh.hidden = name === undefined
  noStore.hidden = name !== undefined
  if (name === undefined) {
    title.textContent = "No store open"
    return
  }
  title.textContent = name
  newKey.href = newKeyHref(name)
  await reloadStore()
}

/**
 * Marks the key that is open.
 * @param {string | undefined} key
 */
export const showCurrentKey = (key) => {
  currentKey = key
  render()
}

/** Moves the focus to the prefix filter. */
export const focusPrefix = () => {
  prefixInput.focus()
  prefixInput.select()
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let typing
prefixInput.addEventListener("input", () => {
  clearTimeout(typing)
  // One request once the person pauses, not one per keystroke.
  typing = setTimeout(() => {
    prefix = prefixInput.value
    pages = [undefined]
    void loadPage()
  }, 200)
})
prefixInput.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown") return
  event.preventDefault()
  list.querySelector("a")?.focus()
})

previous.addEventListener("click", () => {
  pages.pop()
  void loadPage()
})
next.addEventListener("click", () => {
  if (nextAfter === null) return
  pages.push(nextAfter)
  void loadPage()
})
refresh.addEventListener("click", () => void reloadStore())

drop.addEventListener("click", async () => {
  const name = store
  if (name === undefined) return
  const confirmed = await confirmAction({
    title: `Drop store "${name}"?`,
    text: `Every key of "${name}" is deleted, with its log. This cannot be undone.`,
    action: "Drop store",
    typeName: name
  })
  if (!confirmed) return
  try {
    await api.dropStore(name)
    say(`Dropped store "${name}".`)
    location.hash = "#/"
    await reloadStores()
  } catch (error) {
    sayError(error)
  }
})

roving(list)
