// @ts-check
/** Small helpers over the page's own markup (index.html). */

/**
 * The element with this id, of this type; a page without it is a bug of the console.
 * @template {Element} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
export const byId = (id, type) => {
  const element = document.getElementById(id)
  if (!(element instanceof type)) throw new Error(`the console's page has no ${type.name} #${id}`)
  return element
}

const notice = byId("notice", HTMLElement)

/**
 * Says something in the notice line (read out by screen readers); an error stays until the next one.
 * @param {string} text
 * @param {"info" | "error"} [kind]
 */
export const say = (text, kind = "info") => {
  notice.textContent = text
  notice.dataset["kind"] = kind
}

/**
 * Says what went wrong, in the API's own words when it was the API.
 * @param {unknown} error
 */
export const sayError = (error) => {
  if (error instanceof DOMException && error.name === "AbortError") return
  say(error instanceof Error ? error.message : String(error), "error")
}

/**
 * A size in bytes as a person reads it.
 * @param {number} bytes
 */
export const formatBytes = (bytes) =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(2)} MiB`

/**
 * A count with its noun, as in "1 key", "12,000 keys".
 * @param {number} count
 * @param {string} noun
 */
export const plural = (count, noun) => `${count.toLocaleString("en")} ${noun}${count === 1 ? "" : "s"}`

/**
 * Arrow keys move the focus between the links of a list, and only one of them is in the Tab
 * order: a long list is one Tab stop, not a hundred.
 * @param {HTMLElement} list
 */
export const roving = (list) => {
  list.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Home" && event.key !== "End") return
    const links = [...list.querySelectorAll("a")]
    if (links.length === 0) return
    const at = links.findIndex((link) => link === document.activeElement)
    const to = event.key === "Home" ? 0 : event.key === "End" ? links.length - 1 : Math.min(links.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)))
    event.preventDefault()
    focusItem(list, links[to])
  })
}

/**
 * Makes `link` the list's one Tab stop and focuses it.
 * @param {HTMLElement} list
 * @param {HTMLAnchorElement | undefined} link
 */
export const focusItem = (list, link) => {
  if (link === undefined) return
  for (const other of list.querySelectorAll("a")) other.tabIndex = -1
  link.tabIndex = 0
  link.focus()
}

/**
 * Replaces the list's items with links, one per name, the `current` one marked; the current
 * one (else the first) is the list's Tab stop. An item's `state` is its link's `data-state`, for
 * the stylesheet.
 * @param {HTMLElement} list
 * @param {ReadonlyArray<{ name: string, href: string, detail?: string, state?: string }>} items
 * @param {string | undefined} current
 */
export const renderLinks = (list, items, current) => {
  // The item that has the focus keeps it across a render, as far as it is still listed.
  const focused = list.contains(document.activeElement) && document.activeElement instanceof HTMLAnchorElement
    ? document.activeElement.title
    : undefined
  const fragment = document.createDocumentFragment()
  let stop = false
  for (const item of items) {
    const link = document.createElement("a")
    link.href = item.href
    link.title = item.name
    if (item.state !== undefined) link.dataset["state"] = item.state
    const name = document.createElement("span")
    name.className = "name"
    name.textContent = item.name
    link.append(name)
    if (item.detail !== undefined) {
      const detail = document.createElement("span")
      detail.className = "detail"
      detail.textContent = item.detail
      link.append(detail)
    }
    const isCurrent = item.name === current
    if (isCurrent) link.setAttribute("aria-current", "true")
    link.tabIndex = isCurrent ? 0 : -1
    stop ||= isCurrent
    const row = document.createElement("li")
    row.append(link)
    fragment.append(row)
  }
  list.replaceChildren(fragment)
  const links = [...list.querySelectorAll("a")]
  const keep = focused === undefined ? undefined : links.find((link) => link.title === focused)
  if (keep !== undefined) focusItem(list, keep)
  else if (!stop && links[0] !== undefined) links[0].tabIndex = 0
}
