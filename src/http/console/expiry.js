// @ts-check
/**
 * The open key's expiry: when it expires, counting down, and the controls to set or remove it.
 * What the controls do is the editor's (editor.js): a compare-and-set on the version shown.
 */
import { byId } from "./dom.js"

const box = byId("expiry", HTMLElement)
const text = byId("expiry-text", HTMLElement)
const seconds = byId("expiry-seconds", HTMLInputElement)
const set = byId("set-expiry", HTMLButtonElement)
const remove = byId("remove-expiry", HTMLButtonElement)

/**
 * A span of time as a person reads it, to the second under an hour: "45 s", "4 min 3 s", "2 h 5 min", "3 d 4 h".
 * @param {number} ms
 */
export const formatDuration = (ms) => {
  const s = Math.max(0, Math.ceil(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`
}

/** @type {number | undefined} */
let deadline
/** @type {ReturnType<typeof setInterval> | undefined} */
let ticking

const renderText = () => {
  if (deadline === undefined) {
    text.textContent = "never"
    return
  }
  const left = deadline - Date.now()
  const at = new Date(deadline).toLocaleString("en", { dateStyle: "medium", timeStyle: "medium" })
  // Past the deadline the key is gone for reads already; the store's expire change follows.
  text.textContent = left > 0 ? `in ${formatDuration(left)} (${at})` : `now (${at})`
}

/**
 * Shows when the open key expires: `undefined` never, `null` no key to expire (hides the controls).
 * @param {number | undefined | null} expiresAt epoch milliseconds
 */
export const showExpiry = (expiresAt) => {
  box.hidden = expiresAt === null
  deadline = expiresAt ?? undefined
  remove.disabled = deadline === undefined
  clearInterval(ticking)
  ticking = deadline === undefined ? undefined : setInterval(renderText, 1000)
  renderText()
}

/**
 * Calls `action` with the seconds the person asked the key to expire in, or `undefined` for never.
 * @param {(ttl: number | undefined) => void} action
 */
export const onExpiryAction = (action) => {
  const setFromInput = () => {
    const ttl = Number(seconds.value)
    if (seconds.value.trim() === "" || !Number.isFinite(ttl) || ttl <= 0) {
      seconds.setCustomValidity("Give the seconds until the key expires, a number above 0.")
      seconds.reportValidity()
      return
    }
    seconds.setCustomValidity("")
    seconds.value = ""
    action(ttl)
  }
  set.addEventListener("click", setFromInput)
  seconds.addEventListener("input", () => seconds.setCustomValidity(""))
  seconds.addEventListener("keydown", (event) => {
    // Enter sets the expiry here, where in the rest of the editor's form it saves the value.
    if (event.key !== "Enter") return
    event.preventDefault()
    setFromInput()
  })
  remove.addEventListener("click", () => action(undefined))
}
