// @ts-check
/**
 * The console's entry: follows the URL's fragment (see routes.js) to show a store and a key,
 * and wires what belongs to no pane: the token, keyboard shortcuts, the phone layout, the
 * open store's live changes to the open key, the server's health.
 */
import * as api from "./api.js"
import { askForToken, confirmAction } from "./dialogs.js"
import { byId, say } from "./dom.js"
import { closeKey, hasEdit, keyChanged, newKey, openKey } from "./editor.js"
import { watchHealth } from "./health.js"
import { focusPrefix, onChange, openStore, openedStore, showCurrentKey } from "./keys.js"
import { parseRoute } from "./routes.js"
import { reloadStores, showCurrentStore } from "./stores.js"

const panes = byId("panes", HTMLElement)
const forget = byId("forget-token", HTMLButtonElement)
const openForm = byId("open-store", HTMLFormElement)
const openName = byId("open-store-name", HTMLInputElement)

const showTokenState = () => {
  forget.hidden = api.storedToken() === null
}

api.onTokenNeeded(async (refused) => {
  const token = await askForToken(refused)
  // Shown once the token is stored, which the call does as soon as this returns.
  setTimeout(showTokenState)
  return token
})

/** The fragment shown, to go back to when a person keeps an edit rather than leave it. */
let shownHash = location.hash

/** Shows what the fragment names. */
const route = async () => {
  if (location.hash === shownHash && panes.dataset["ready"] === "true") return
  const target = parseRoute(location.hash)
  if (hasEdit()) {
    const leave = await confirmAction({
      title: "Leave without saving?",
      text: "The value in the editor has changes that are not saved.",
      action: "Leave"
    })
    if (!leave) {
      history.replaceState(null, "", shownHash)
      return
    }
  }
  shownHash = location.hash
  const store = target.view === "stores" ? undefined : target.store
  const key = target.view === "key" ? target.key : undefined
  panes.dataset["show"] = target.view === "stores" ? "stores" : target.view === "store" ? "keys" : "key"
  showCurrentStore(store)
  const opening = openStore(store)
  showCurrentKey(key)
  if (target.view === "key") void openKey(target.store, target.key)
  else if (target.view === "new") newKey(target.store)
  else closeKey()
  // On a phone one pane shows at a time: the focus follows to the pane that is now shown.
  const focused = document.activeElement
  if (focused instanceof HTMLElement && focused !== document.body && focused.offsetParent === null) {
    const heading = panes.querySelector(`#${panes.dataset["show"]}-pane h2`)
    if (heading instanceof HTMLElement) heading.focus()
  }
  panes.dataset["ready"] = "true"
  await opening
}

window.addEventListener("hashchange", () => void route())
window.addEventListener("beforeunload", (event) => {
  if (hasEdit()) event.preventDefault()
})

document.addEventListener("keydown", (event) => {
  const inField = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement
  // "/" finds a key, as in many web apps; typed in a field it is just a slash.
  if (event.key === "/" && !inField && !event.ctrlKey && !event.metaKey && openedStore() !== undefined) {
    event.preventDefault()
    focusPrefix()
  }
})

forget.addEventListener("click", () => {
  api.forgetToken()
  showTokenState()
  say("This tab forgot the token; the next call that needs one asks for it.")
})

openForm.addEventListener("submit", (event) => {
  event.preventDefault()
  const name = openName.value.trim()
  if (name === "") return
  openName.value = ""
  location.hash = `#/stores/${encodeURIComponent(name)}`
})

onChange(keyChanged)
showTokenState()
void route()
void reloadStores()
watchHealth()
