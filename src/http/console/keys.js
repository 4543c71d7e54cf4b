// @ts-check
/**
 * An open store: its count and version, and its keys a page at a time with a prefix filter.
 * Only the page shown is fetched, so a store of a million keys costs what one of a hundred does.
 *
 * The store is followed live (watch.js) from the version its count was read at, before its page
 * is read, so no change falls between them. A change updates the page shown and nothing else: a
 * key of the page is marked changed, deleted or expired; a new key that sorts within the page
 * (between the key before it and its last key, or anywhere after the start of the last page) is
 * inserted there, so paging on skips and repeats nothing; a change elsewhere is only counted,
 * since showing it would mean reading pages the person is not looking at.
 */
import * as api from "./api.js"
import { confirmAction } from "./dialogs.js"
import { byId, plural, renderLinks, roving, say, sayError } from "./dom.js"
import { keyHref, newKeyHref } from "./routes.js"
import { noteStoreSize, reloadStores } from "./stores.js"
import { follow } from "./watch.js"

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
const live = byId("live", HTMLElement)
const elsewhere = byId("keys-elsewhere", HTMLElement)

/**
 * What a live change did to a key of the page shown.
 * @typedef {"new" | "changed" | "expiry changed" | "deleted" | "expired"} Mark
 */

/** @type {string | undefined} */
let store
let prefix = ""
/** The `after` of each page up to the one shown: going back needs no request to find it. */
let pages = /** @type {Array<string | undefined>} */ ([undefined])
/** @type {string | null} */
let nextAfter = null
/** The page shown: its keys as read, then as changed live, in key order. */
let rows = /** @type {Array<{ key: string, mark?: Mark }>} */ ([])
/** @type {string | undefined} */
let currentKey
/** @type {AbortController | undefined} */
let pending
/** The store's count, as last read, and its version, as last read or changed. */
let size = 0
let version = 0
/** Changes since the page was read to keys it does not show. */
let changedElsewhere = 0
/** Stops following the store, while it is followed. */
let unfollow = /** @type {(() => void) | undefined} */ (undefined)
/** Changes that came while a page was being read, to apply once it is here. */
let arrived = /** @type {Array<import("./watch.js").Change> | undefined} */ (undefined)
/** @type {Array<(change: import("./watch.js").Change | "reread") => void>} */
const listeners = []

/**
 * Calls `listener` with each change of the open store, as it happens, and with `"reread"` when
 * changes were missed (the store was read again to follow on): what it shows must be read again.
 * @param {(change: import("./watch.js").Change | "reread") => void} listener
 */
export const onChange = (listener) => {
  listeners.push(listener)
}

/** The store that is open, if any. */
export const openedStore = () => store

const render = () => {
  if (store === undefined) return
  renderLinks(list, rows.map((row) => ({
    name: row.key,
    href: keyHref(store ?? "", row.key),
    ...(row.mark === undefined ? {} : { detail: row.mark, state: row.mark.replace(" ", "-") })
  })), currentKey)
  const first = (pages.length - 1) * pageSize
  const within = prefix === "" ? "" : ` starting with "${prefix}"`
  empty.hidden = rows.length > 0
  empty.textContent = pages.length > 1 ? "No more keys." : prefix === "" ? "This store holds no keys." : `No key starts with "${prefix}".`
  // Deleted and expired keys stay shown, struck through, until the page is read again; they are not counted.
  const present = rows.filter((row) => row.mark !== "deleted" && row.mark !== "expired").length
  pageLabel.textContent = present === 0 ? "" : `Keys${within} ${(first + 1).toLocaleString("en")}–${(first + present).toLocaleString("en")}`
  previous.disabled = pages.length === 1
  next.disabled = nextAfter === null
  elsewhere.hidden = changedElsewhere === 0
  elsewhere.textContent = `${plural(changedElsewhere, "change")} to keys not on this page since it was read.`
}

/** @type {number | undefined} */
let frame
/** Renders once per frame however many changes come: a busy store does not redraw per change. */
const renderSoon = () => {
  frame ??= requestAnimationFrame(() => {
    frame = undefined
    render()
  })
}

const renderInfo = () => {
  info.textContent = `${plural(size, "key")} · version ${version.toLocaleString("en")}`
}

/**
 * Whether `key` belongs between the page's first and last place: where a new key would show.
 * @param {string} key
 */
const withinPage = (key) => {
  const after = pages[pages.length - 1]
  return key.startsWith(prefix) && (after === undefined || key > after) && (nextAfter === null || key <= nextAfter)
}

/**
 * Shows a change on the page, if it is on it.
 * @param {import("./watch.js").Change} change
 */
const applyToPage = (change) => {
  if (change.kind === "clear") {
    for (const row of rows) if (row.mark !== "deleted" && row.mark !== "expired") row.mark = "deleted"
    return
  }
  const { key } = change
  let low = 0
  let high = rows.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (/** @type {{ key: string }} */ (rows[middle]).key < key) low = middle + 1
    else high = middle
  }
  const row = rows[low]
  const shown = row !== undefined && row.key === key
  const gone = !shown || row.mark === "deleted" || row.mark === "expired"
  if (change.kind === "put") {
    if (shown) row.mark = gone ? "new" : "changed"
    else if (withinPage(key)) rows.splice(low, 0, { key, mark: "new" })
    else changedElsewhere++
  } else if (!shown) {
    if (!withinPage(key)) changedElsewhere++
  } else if (change.kind === "touch") {
    if (!gone) row.mark = "expiry changed"
  } else {
    row.mark = change.kind === "expire" ? "expired" : "deleted"
  }
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let countLater
/** Reads the count again after changes, at most once a second: an event does not say whether a key is new. */
const recountSoon = () => {
  countLater ??= setTimeout(() => {
    countLater = undefined
    void loadInfo()
  }, 1000)
}

/**
 * A change of the open store, as it happens.
 * @param {import("./watch.js").Change} change
 */
const changed = (change) => {
  version = Math.max(version, change.version)
  if (arrived !== undefined) arrived.push(change)
  else applyToPage(change)
  for (const listener of listeners) listener(change)
  renderInfo()
  renderSoon()
  recountSoon()
}

/** @param {import("./watch.js").WatchState} state */
const showLive = (state) => {
  live.dataset["state"] = state.state
  live.textContent = state.state === "live" ? "Live" : state.state === "connecting" ? "Connecting…" : "Not live"
  live.title = state.state === "off"
    ? `${state.reason}. Reload to try again.`
    : state.state === "live"
    ? "Changes show as they happen"
    : "Connecting to the store's changes again"
}

/**
 * Follows the open store from `since`.
 * @param {string} name
 * @param {number} since
 */
const startFollowing = (name, since) => {
  unfollow?.()
  unfollow = follow(name, since, {
    change: changed,
    state: (state) => {
      // Not live for good: Reload follows the store again.
      if (state.state === "off") unfollow = undefined
      showLive(state)
    },
    relist: async (lagged) => {
      const since = await loadInfo(true)
      if (since === undefined) throw new Error(`store "${name}" could not be read`)
      await loadPage()
      for (const listener of listeners) listener("reread")
      // Said, as the marks of the changes shown so far are gone with the page read again.
      if (lagged) say(`Store "${name}" changed faster than this tab could follow: its page was read again.`)
      return since
    }
  })
}

const stopFollowing = () => {
  unfollow?.()
  unfollow = undefined
  clearTimeout(countLater)
  countLater = undefined
}

/** Fetches the page whose `after` is last in `pages`. */
const loadPage = async () => {
  if (store === undefined) return
  pending?.abort()
  const controller = new AbortController()
  pending = controller
  arrived = []
  try {
    const page = await api.listKeys(store, { prefix, after: pages[pages.length - 1], limit: pageSize }, controller.signal)
    if (controller.signal.aborted) return
    rows = page.keys.map((key) => ({ key }))
    nextAfter = page.next
    changedElsewhere = 0
    // The page was read after some of these and perhaps before others: applied again, each leaves
    // its key as the last change made it.
    for (const change of arrived) applyToPage(change)
    arrived = undefined
    render()
  } catch (error) {
    if (pending === controller) arrived = undefined
    sayError(error)
  }
}

/**
 * Fetches the store's count and version; resolves to the version, or `undefined` when it failed.
 * @param {boolean} [anew] whether the store is read afresh, to follow from its version: a store
 *   dropped and written again has a lower version than the one shown
 * @returns {Promise<number | undefined>}
 */
export const loadInfo = async (anew = false) => {
  const name = store
  if (name === undefined) return undefined
  try {
    const read = await api.storeInfo(name)
    if (name !== store) return undefined
    size = read.size
    // Else changes may have come in while it was read: the version shown is the later.
    version = anew ? read.version : Math.max(version, read.version)
    renderInfo()
    noteStoreSize(name, size)
    return read.version
  } catch (error) {
    sayError(error)
    return undefined
  }
}

/**
 * Reads the store's count and the page shown again; starts following the store from the
 * version read first, if it is not followed yet.
 */
export const reloadStore = async () => {
  const name = store
  if (name === undefined) return
  if (unfollow !== undefined) {
    await Promise.all([loadInfo(), loadPage()])
    return
  }
  const since = await loadInfo(true)
  if (name !== store) return
  if (since !== undefined) startFollowing(name, since)
  await loadPage()
}

/**
 * Opens `name` at its first page, unless it is open already.
 * @param {string | undefined} name
 */
export const openStore = async (name) => {
  if (name === store) return
  stopFollowing()
  store = name
  pending?.abort()
  rows = []
  arrived = undefined
  nextAfter = null
  pages = [undefined]
  size = version = changedElsewhere = 0
  prefix = prefixInput.value = ""
  info.textContent = ""
  list.replaceChildren()
  body.hidden = refresh.hidden = live.hidden = name === undefined
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
