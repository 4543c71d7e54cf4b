// @ts-check
/**
 * One key: its value as formatted JSON, its version and its expiry. A save is a compare-and-set
 * on the version shown (a new key: only if still absent), and keeps the key's expiry; when the
 * key changed meanwhile, nothing is overwritten: the newer value is shown, and the edit is kept
 * beside it. The key follows the store's live changes: shown as it changes, or, while it is
 * being edited, with a note that it changed, so the edit is never replaced under the person.
 */
import * as api from "./api.js"
import { confirmAction } from "./dialogs.js"
import { byId, formatBytes, say, sayError } from "./dom.js"
import { onExpiryAction, showExpiry } from "./expiry.js"
import { reloadStore } from "./keys.js"
import { keyHref, storeHref } from "./routes.js"

const form = byId("editor", HTMLFormElement)
const title = byId("key-title", HTMLElement)
const nameField = byId("key-name-field", HTMLElement)
const nameInput = byId("key-name", HTMLInputElement)
const meta = byId("key-meta", HTMLElement)
const textarea = byId("value", HTMLTextAreaElement)
const valueError = byId("value-error", HTMLElement)
const conflict = byId("conflict", HTMLElement)
const conflictText = byId("conflict-text", HTMLElement)
const draftBox = byId("draft-box", HTMLDetailsElement)
const draft = byId("draft", HTMLElement)
const useDraft = byId("use-draft", HTMLButtonElement)
const save = byId("save", HTMLButtonElement)
const revert = byId("revert", HTMLButtonElement)
const remove = byId("delete-key", HTMLButtonElement)
const back = byId("back-to-keys", HTMLAnchorElement)
const large = byId("large", HTMLElement)
const largeText = byId("large-text", HTMLElement)
const showLarge = byId("show-large", HTMLButtonElement)
const valueLabel = byId("value-label", HTMLElement)
const body = byId("editor-body", HTMLElement)
const stale = byId("stale", HTMLElement)
const staleText = byId("stale-text", HTMLElement)
const showNewer = byId("show-newer", HTMLButtonElement)

/**
 * Formatted text longer than this waits for a click before it is shown: a browser lays out the
 * whole of a textarea, and a value at the size limit, formatted, takes it seconds.
 */
const showAtOnce = 256 * 1024

const encoder = new TextEncoder()

/**
 * What the editor holds: the key, the version its value was read at (`null`: absent, so a save
 * creates it), the value's text as shown before any edit (to tell an edit from it), the size of
 * the value as stored (compact JSON, which the size limit counts), and when it expires.
 * @typedef {{ store: string, key: string | undefined, version: number | null, baseline: string, bytes: number,
 *   expiresAt: number | undefined }} Editing
 */

/** @type {Editing | undefined} */
let editing

/**
 * Live changes that came while a call about the key was on its way: applied once it is answered,
 * so that neither the answer nor the change hides the other.
 * @type {Array<import("./watch.js").Change> | undefined}
 */
let held

/** @param {unknown} value */
const pretty = (value) => JSON.stringify(value, null, 2)

/** Whether the value in the editor differs from the one read. */
export const hasEdit = () => editing !== undefined && !textarea.hidden && textarea.value !== editing.baseline

const renderMeta = () => {
  if (editing === undefined) return
  meta.textContent = editing.version === null
    ? editing.key === undefined ? "A new key: it is created only if no key of its name exists." : "Absent: saving creates it."
    : `version ${editing.version.toLocaleString("en")} · ${formatBytes(editing.bytes)}`
  remove.disabled = editing.version === null
  revert.disabled = editing.key === undefined
  showExpiry(editing.version === null ? null : editing.expiresAt)
}

/**
 * Shows the value or, when it is long, offers to.
 * @param {boolean} hide whether to hold the text back until asked
 */
const showText = (hide) => {
  large.hidden = !hide
  textarea.hidden = valueLabel.hidden = save.disabled = hide
  // Assigned only when it differs: each assignment lays the whole text out again.
  if (!hide && editing !== undefined && textarea.value !== editing.baseline) textarea.value = editing.baseline
  if (hide) textarea.value = ""
}

/**
 * Shows a key's value as read.
 * @param {Editing} next
 */
const show = (next) => {
  // A long value waits for a click when a key is opened, not once its text is shown already.
  const shown = !textarea.hidden && editing?.store === next.store && editing.key === next.key
  editing = next
  stale.hidden = true
  valueError.textContent = ""
  const hide = next.baseline.length > showAtOnce && !shown
  largeText.textContent = hide
    ? `The value is ${formatBytes(next.bytes)}, ${formatBytes(next.baseline.length)} formatted: showing it takes the browser a moment.`
    : ""
  showText(hide)
  renderMeta()
}

/**
 * Shows a key as read: its value, or nothing when it is absent.
 * @param {string} store
 * @param {string} key
 * @param {api.KeyValue | undefined} read
 */
const showRead = (store, key, read) =>
  show({
    store,
    key,
    version: read?.version ?? null,
    baseline: read === undefined ? "" : pretty(read.value),
    bytes: read === undefined ? 0 : encoder.encode(read.text).length,
    expiresAt: read?.expiresAt
  })

/**
 * Titles the editor with an existing key's name.
 * @param {string} key
 */
const showTitle = (key) => {
  title.textContent = key
  nameField.hidden = true
}

const hideConflict = () => {
  conflict.hidden = true
  draftBox.open = false
}

/** Empties the editor: no key open. */
export const closeKey = () => {
  editing = undefined
  showText(false)
  body.hidden = true
  title.textContent = "No key open"
  nameField.hidden = true
  meta.textContent = "Choose a key, or make a new one."
  textarea.value = ""
  textarea.disabled = save.disabled = revert.disabled = remove.disabled = true
  valueError.textContent = ""
  hideConflict()
  stale.hidden = true
  showExpiry(null)
}

/**
 * Runs a call about the open key, holding the live changes that come meanwhile until it ends.
 * @template A
 * @param {() => Promise<A>} call
 * @returns {Promise<A>}
 */
const holdingChanges = async (call) => {
  const outer = held === undefined
  held ??= []
  try {
    return await call()
  } finally {
    if (outer) {
      const changes = held
      held = undefined
      for (const change of changes) keyChanged(change)
    }
  }
}

/**
 * Reads `key` of `store` and shows it.
 * @param {string} store
 * @param {string} key
 */
export const openKey = async (store, key) => {
  showTitle(key)
  back.href = storeHref(store)
  body.hidden = textarea.disabled = save.disabled = false
  hideConflict()
  try {
    await holdingChanges(async () => {
      const read = await api.readKey(store, key)
      if (read === undefined) say(`Key "${key}" is not in store "${store}": saving creates it.`)
      showRead(store, key, read)
    })
  } catch (error) {
    sayError(error)
  }
}

/**
 * An empty editor for a new key of `store`.
 * @param {string} store
 */
export const newKey = (store) => {
  title.textContent = "New key"
  nameField.hidden = false
  nameInput.value = ""
  back.href = storeHref(store)
  body.hidden = textarea.disabled = save.disabled = false
  hideConflict()
  show({ store, key: undefined, version: null, baseline: "", bytes: 0, expiresAt: undefined })
  nameInput.focus()
}

/**
 * The write was refused because the key is not as the editor read it: show it as it is now,
 * and keep the edit, `mine`, aside.
 * @param {string} store
 * @param {string} key
 * @param {string} mine
 * @param {string} refused what was not done, as in "Not saved"
 */
const showConflict = async (store, key, mine, refused) => {
  const was = editing?.version ?? null
  const now = await api.readKey(store, key)
  const since = was === null ? "" : ` since you read it at version ${was.toLocaleString("en")}`
  conflictText.textContent = now === undefined
    ? `${refused}: key "${key}" was deleted${since}. Saving now creates it again.`
    : was === null
    ? `${refused}: key "${key}" exists already, at version ${now.version.toLocaleString("en")}, shown below. Nothing was overwritten.`
    : `${refused}: key "${key}" changed${since}; it is at version ${now.version.toLocaleString("en")} now, shown below. ` +
      "Nothing was overwritten."
  showTitle(key)
  showRead(store, key, now)
  draft.textContent = mine
  draftBox.hidden = mine === ""
  conflict.hidden = false
  if (location.hash !== keyHref(store, key)) history.replaceState(null, "", keyHref(store, key))
}

/** Saves the editor's value: a compare-and-set on the version shown. */
const saveValue = async () => {
  if (editing === undefined) return
  const { store } = editing
  const key = editing.key ?? nameInput.value
  if (key === "") {
    valueError.textContent = "Give the new key a name."
    nameInput.focus()
    return
  }
  /** @type {unknown} */
  let value
  try {
    value = JSON.parse(textarea.value)
  } catch (error) {
    valueError.textContent = `This is not JSON (${error instanceof Error ? error.message : String(error)}). ` +
      "Text needs double quotes, as in \"hello\"."
    textarea.focus()
    return
  }
  valueError.textContent = ""
  const mine = textarea.value
  const expiresAt = editing.version === null ? undefined : editing.expiresAt
  save.disabled = true
  try {
    // Sent compact: a value near the size limit fits the body limit however it is shown.
    const json = JSON.stringify(value)
    // A put without a ttl removes the key's expiry: the time it has left goes with the save.
    const ttl = expiresAt === undefined ? undefined : Math.max(0.001, (expiresAt - Date.now()) / 1000)
    const written = await holdingChanges(async () => {
      const written = await api.writeKey(store, key, json, editing?.version ?? null, ttl)
      if (written === "conflict") {
        await showConflict(store, key, mine, "Not saved")
        return undefined
      }
      const created = editing?.key === undefined || editing.version === null
      hideConflict()
      showTitle(key)
      show({ store, key, version: written, baseline: pretty(value), bytes: encoder.encode(json).length, expiresAt })
      say(`Saved "${key}" at version ${written.toLocaleString("en")}.`)
      if (created) location.hash = keyHref(store, key)
      return written
    })
    if (written !== undefined) await reloadStore()
  } catch (error) {
    sayError(error)
  } finally {
    save.disabled = false
  }
}

/**
 * Sets the open key's expiry to `ttl` seconds from now, or removes it (`undefined`): a
 * compare-and-set on the version shown, as a save is.
 * @param {number | undefined} ttl
 */
const changeExpiry = async (ttl) => {
  if (editing === undefined || editing.key === undefined || editing.version === null) return
  const { store, key, version } = editing
  try {
    await holdingChanges(async () => {
      const outcome = await api.setExpiry(store, key, version, ttl)
      if (outcome === "conflict") return await showConflict(store, key, hasEdit() ? textarea.value : "", "Expiry not changed")
      if (outcome === "absent") {
        say(`Key "${key}" is gone: saving creates it.`)
        return showRead(store, key, undefined)
      }
      // The value is as it was, so an edit in progress stays good for the new version. The exact
      // deadline comes with the change the watch sends for this version.
      if (editing?.store === store && editing.key === key) {
        editing.version = outcome
        editing.expiresAt = ttl === undefined ? undefined : Date.now() + ttl * 1000
        renderMeta()
      }
      say(ttl === undefined ? `"${key}" never expires now.` : `"${key}" expires in ${ttl.toLocaleString("en")} s.`)
    })
  } catch (error) {
    sayError(error)
  }
}

/**
 * Says the open key changed while it is being edited: the edit stays, and saving it would be
 * refused, so the person can look at the newer value first.
 * @param {string} text
 */
const showStale = (text) => {
  staleText.textContent = text
  stale.hidden = false
}

/**
 * Reads the open key again after changes to it may have been missed: shown as it is now, unless
 * it is being edited and changed meanwhile, which is then said.
 */
const reread = async () => {
  if (editing === undefined || editing.key === undefined) return
  const { store, key, version } = editing
  if (!hasEdit()) return await openKey(store, key)
  const read = await api.readKey(store, key)
  if (editing?.key === key && (read?.version ?? null) !== version) {
    showStale(`Key "${key}" changed while this tab was not following it: saving your edit now may be refused.`)
  }
}

/**
 * A live change of the store whose key is open: the key is shown as it is now, unless it is
 * being edited. `"reread"`: changes were missed, read it again.
 * @param {import("./watch.js").Change | "reread"} change
 */
export const keyChanged = (change) => {
  if (change === "reread") {
    void reread().catch(sayError)
    return
  }
  if (held !== undefined) {
    held.push(change)
    return
  }
  if (editing === undefined || editing.key === undefined) return
  if (change.kind !== "clear" && change.key !== editing.key) return
  const { store, key } = editing
  const at = editing.version ?? 0
  // The change this editor's own write made: it knows the exact deadline.
  if (change.version === at && editing.version !== null && (change.kind === "put" || change.kind === "touch")) {
    editing.expiresAt = change.expiresAt
    renderMeta()
    return
  }
  if (change.version <= at) return
  const version = change.version.toLocaleString("en")
  if (change.kind === "touch") {
    if (editing.version === null) return
    // Only the expiry moved: the value, and any edit of it, stay good at the new version.
    editing.version = change.version
    editing.expiresAt = change.expiresAt
    renderMeta()
    return
  }
  const what = change.kind === "put" ? `changed at version ${version}` : change.kind === "expire" ? "expired" : "was deleted"
  if (hasEdit()) {
    showStale(`Key "${key}" ${what} while you edit it: saving your edit now would be refused.`)
    return
  }
  if (change.kind === "put") {
    const text = JSON.stringify(change.value)
    show({ store, key, version: change.version, baseline: pretty(change.value), bytes: encoder.encode(text).length, expiresAt: change.expiresAt })
  } else {
    showRead(store, key, undefined)
  }
  say(`Key "${key}" ${what}${change.kind === "put" ? "" : `: saving creates it again`}.`)
}

const deleteValue = async () => {
  if (editing === undefined || editing.key === undefined || editing.version === null) return
  const { store, key, version } = editing
  const confirmed = await confirmAction({
    title: `Delete key "${key}"?`,
    text: `Its value at version ${version.toLocaleString("en")} is deleted; if the key changed meanwhile, nothing is.`,
    action: "Delete key"
  })
  if (!confirmed) return
  try {
    const outcome = await holdingChanges(() => api.deleteKey(store, key, version))
    if (outcome === "conflict") return await showConflict(store, key, hasEdit() ? textarea.value : "", "Not deleted")
    say(outcome === "deleted" ? `Deleted "${key}".` : `"${key}" was deleted already.`)
    editing = undefined
    location.hash = storeHref(store)
    await reloadStore()
  } catch (error) {
    sayError(error)
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault()
  void saveValue()
})
showLarge.addEventListener("click", () => {
  showText(false)
  textarea.focus()
})
form.addEventListener("keydown", (event) => {
  // Ctrl+S (⌘S) saves, as in an editor, rather than saving the page.
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault()
    void saveValue()
  }
})
revert.addEventListener("click", () => {
  if (editing?.key !== undefined) void openKey(editing.store, editing.key)
})
remove.addEventListener("click", () => void deleteValue())
showNewer.addEventListener("click", () => {
  if (editing?.key === undefined) return
  const { store, key } = editing
  void holdingChanges(() => showConflict(store, key, textarea.value, "Not saved yet")).catch(sayError)
})
onExpiryAction((ttl) => void changeExpiry(ttl))
useDraft.addEventListener("click", () => {
  showText(false)
  textarea.value = draft.textContent ?? ""
  textarea.focus()
})
