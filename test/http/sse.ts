/**
 * A real Server-Sent Events client for the tests: `fetch` with a streamed body, parsed as the
 * WHATWG spec parses an event stream (fields of one block; comments kept, to see keep-alives).
 */
import { Effect, type Scope } from "effect"

/** One block of the stream: an event, or an `id:` alone, or a comment. */
export interface SseBlock {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly comment?: string
}

/** An open event stream. */
export interface SseStream {
  readonly status: number
  readonly headers: Headers
  /** Every block received so far. */
  readonly blocks: Array<SseBlock>
  /** The events received so far, as `[id, event, data parsed]`. */
  readonly events: () => Array<readonly [number, string, unknown]>
  /** Waits until `done` holds of the blocks received; fails if the stream ends first. */
  readonly until: (done: (blocks: ReadonlyArray<SseBlock>) => boolean) => Effect.Effect<void, Error>
  /** Waits for the end of the stream (the server closed it). */
  readonly ended: Effect.Effect<void>
  /** Disconnects. */
  readonly close: Effect.Effect<void>
}

const parseBlock = (text: string): SseBlock => {
  const block: { id?: string; event?: string; data?: string; comment?: string } = {}
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) block.comment = line.slice(1).trim()
    const colon = line.indexOf(":")
    if (colon <= 0) continue
    const field = line.slice(0, colon)
    const value = line.slice(colon + 1).replace(/^ /, "")
    if (field === "id" || field === "event") block[field] = value
    if (field === "data") block.data = block.data === undefined ? value : `${block.data}\n${value}`
  }
  return block
}

/** Opens `url` as an event stream; the scope disconnects it. */
export const open = (url: string, headers: Record<string, string> = {}): Effect.Effect<SseStream, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const abort = new AbortController()
      const response = await fetch(url, { headers, signal: abort.signal })
      const blocks: Array<SseBlock> = []
      const listeners = new Set<() => void>()
      let finished = false
      const notify = () => listeners.forEach((listener) => listener())
      const reading = (async () => {
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
        let pending = ""
        try {
          while (true) {
            const { done, value } = await reader.read()
            if (done) break
            pending += value
            let end: number
            while ((end = pending.indexOf("\n\n")) >= 0) {
              blocks.push(parseBlock(pending.slice(0, end)))
              pending = pending.slice(end + 2)
            }
            notify()
          }
        } catch {
          // Aborted by us, or the connection was cut: the stream has ended either way.
        }
        finished = true
        notify()
      })()
      const when = (ready: () => boolean) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (ready()) {
              listeners.delete(check)
              resolve()
            }
          }
          listeners.add(check)
          check()
        })
      const stream: SseStream = {
        status: response.status,
        headers: response.headers,
        blocks,
        events: () =>
          blocks.filter((block) => block.event !== undefined && block.data !== undefined).map((block) =>
            [Number(block.id), block.event!, JSON.parse(block.data!)] as const
          ),
        until: (done) =>
          Effect.flatMap(Effect.promise(() => when(() => finished || done(blocks))), () =>
            done(blocks) ? Effect.void : Effect.fail(new Error(`the stream ended first, after ${JSON.stringify(blocks)}`))),
        ended: Effect.promise(() => when(() => finished)),
        close: Effect.promise(async () => {
          abort.abort()
          await reading
        })
      }
      return stream
    }),
    (stream) => stream.close
  )
