// @ts-check
/** The console's two questions: the server's token, and "are you sure?" before a delete or drop. */
import { byId } from "./dom.js"

const tokenDialog = byId("token-dialog", HTMLDialogElement)
const tokenInput = byId("token-input", HTMLInputElement)
const tokenReason = byId("token-reason", HTMLElement)

/**
 * Asks for the server's token; resolves to it, or to `undefined` when the person cancels.
 * @param {boolean} refused whether the token this tab held was refused
 * @returns {Promise<string | undefined>}
 */
export const askForToken = (refused) =>
  new Promise((resolve) => {
    tokenReason.textContent = refused
      ? "The server refused the token this tab held. Give the right one; it is kept in this tab only."
      : "Give the server's token (--token or KV_TOKEN). It is kept in this tab only, until you close it."
    tokenInput.value = ""
    tokenDialog.returnValue = ""
    tokenDialog.addEventListener("close", () => {
      const token = tokenInput.value
      tokenInput.value = ""
      resolve(tokenDialog.returnValue === "ok" && token !== "" ? token : undefined)
    }, { once: true })
    tokenDialog.showModal()
    tokenInput.focus()
  })

const confirmDialog = byId("confirm-dialog", HTMLDialogElement)
const confirmTitle = byId("confirm-title", HTMLElement)
const confirmText = byId("confirm-text", HTMLElement)
const confirmOk = byId("confirm-ok", HTMLButtonElement)
const nameField = byId("confirm-name-field", HTMLElement)
const nameLabel = byId("confirm-name-label", HTMLElement)
const nameInput = byId("confirm-name", HTMLInputElement)

// The button stays disabled until the name typed is the one asked for.
nameInput.addEventListener("input", () => {
  confirmOk.disabled = nameInput.value !== nameInput.dataset["expected"]
})

/**
 * Asks before something that cannot be undone; with `typeName`, the person must type that
 * name first. Resolves to whether they confirmed.
 * @param {{ title: string, text: string, action: string, typeName?: string }} question
 * @returns {Promise<boolean>}
 */
export const confirmAction = (question) =>
  new Promise((resolve) => {
    confirmTitle.textContent = question.title
    confirmText.textContent = question.text
    confirmOk.textContent = question.action
    const typed = question.typeName
    nameField.hidden = typed === undefined
    nameInput.value = ""
    nameInput.dataset["expected"] = typed ?? ""
    nameLabel.textContent = typed === undefined ? "" : `Type "${typed}" to confirm`
    confirmOk.disabled = typed !== undefined
    confirmDialog.returnValue = ""
    confirmDialog.addEventListener("close", () => resolve(confirmDialog.returnValue === "ok"), { once: true })
    confirmDialog.showModal()
    if (typed === undefined) confirmOk.focus()
    else nameInput.focus()
  })
