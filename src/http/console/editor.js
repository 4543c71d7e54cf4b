// @ts-check
/**
 * One key: its value as formatted JSON and its version. A save is a compare-and-set on the
 * version shown (a new key: only if still absent); when the key changed meanwhile, nothing is
 * overwritten: the newer value is shown, and the edit is kept beside it.
 */
import * as api from "./api.js"
import { confirmAction } from "./dialogs.js"
import { byId, formatBytes, say, sayError } from "./dom.js"
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

/**
 * Formatted text longer than this waits for a click before it is shown: a browser lays out the
 * whole of a textarea, and a value at the size limit, formatted, takes it seconds.
 */
const showAtOnce = 256 * 1024

const encoder = new TextEncoder()

/**
 * What the editor holds: the key, the version its value was read at (`null`: absent, so a save
 * creates it), the value's text as shown before any edit (to tell an edit from it), and the
 * size of the value as stored (compact JSON, which the size limit counts).
 * @typedef {{ store: string, key: string | undefined, version: number | null, baseline: string, bytes: number }} Editing
 */

/** @type {Editing | undefined} */
let editing

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
    bytes: read === undefined ? 0 : encoder.encode(read.text).length
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
    const read = await api.readKey(store, key)
    if (read === undefined) say(`Key "${key}" is not in store "${store}": saving creates it.`)
    showRead(store, key, read)
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
  show({ store, key: undefined, version: null, baseline: "", bytes: 0 })
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
  save.disabled = true
  try {
    // Sent compact: a value near the size limit fits the body limit however it is shown.
    const json = JSON.stringify(value)
    const written = await api.writeKey(store, key, json, editing.version)
    if (written === "conflict") {
      await showConflict(store, key, mine, "Not saved")
      return
    }
    const created = editing.key === undefined || editing.version === null
    hideConflict()
    showTitle(key)
    show({ store, key, version: written, baseline: pretty(value), bytes: encoder.encode(json).length })
    say(`Saved "${key}" at version ${written.toLocaleString("en")}.`)
    if (created) location.hash = keyHref(store, key)
    await reloadStore()
  } catch (error) {
    sayError(error)
  } finally {
    save.disabled = false
  }
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
    const outcome = await api.deleteKey(store, key, version)
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
useDraft.addEventListener("click", () => {
  showText(false)
  textarea.value = draft.textContent ?? ""
  textarea.focus()
})
