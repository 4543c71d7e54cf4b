// @ts-check
/**
 * A reader of Server-Sent Events text, as the HTML standard parses it. `EventSource` would do
 * this, but it cannot send the `Authorization` header a server with a token wants, so the
 * console reads the stream with `fetch` and gives the text to this, as it comes, in any pieces.
 */

/**
 * One event: its `event:` name (`message` when it has none), its `data:` lines joined, and the
 * last `id:` seen up to it.
 * @typedef {{ type: string, data: string, id: string }} SseEvent
 */

/**
 * A parser that calls `onEvent` for each whole event of the text pushed to it.
 * @param {(event: SseEvent) => void} onEvent
 */
export const sseParser = (onEvent) => {
  let pending = ""
  /** A `\r` ended the last piece: a `\n` that starts the next one ends no other line. */
  let afterCr = false
  /** @type {Array<string>} */
  let data = []
  let type = ""
  let lastId = ""

  /** @param {string} line */
  const take = (line) => {
    if (line === "") {
      // An event without data (as the `id:` a stream opens with) only moves the last id on.
      if (data.length > 0) onEvent({ type: type === "" ? "message" : type, data: data.join("\n"), id: lastId })
      data = []
      type = ""
      return
    }
    if (line.startsWith(":")) return
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") data.push(value)
    else if (field === "event") type = value
    else if (field === "id" && !value.includes("\0")) lastId = value
  }

  return {
    /** @param {string} text the next piece of the stream's text */
    push: (text) => {
      let from = 0
      if (afterCr && text.startsWith("\n")) from = 1
      afterCr = false
      for (let at = from; at < text.length; at++) {
        const char = text[at]
        if (char !== "\n" && char !== "\r") continue
        take(pending + text.slice(from, at))
        pending = ""
        if (char === "\r") {
          if (at + 1 === text.length) afterCr = true
          else if (text[at + 1] === "\n") at++
        }
        from = at + 1
      }
      pending += text.slice(from)
    },
    /** The last `id:` the stream gave, as the `Last-Event-ID` to resume with. */
    lastId: () => lastId
  }
}
