/**
 * Load for the overload tests: many requests sent at once over a pool of keep-alive connections,
 * as a load generator does, each answer (or connection error) kept beside its request.
 */
import { Effect } from "effect"
import * as Http from "node:http"

/** One request of a load. */
export interface Shot {
  readonly method: string
  readonly path: string
  readonly body?: string | Buffer
}

/** What came back for a request: its status and error tag, or the connection's error. */
export interface Answer {
  readonly status: number | undefined
  readonly error: string | undefined
}

/**
 * Sends every shot at once over at most `connections` connections to `base`; succeeds once each
 * has an answer, in the order of `shots`. The connections are closed at the end.
 */
export const fire = (base: string, shots: ReadonlyArray<Shot>, connections: number) =>
  Effect.async<ReadonlyArray<Answer>>((resume) => {
    const url = new URL(base)
    const agent = new Http.Agent({ keepAlive: true, maxSockets: connections })
    const answers: Array<Answer | undefined> = new Array(shots.length)
    let pending = shots.length
    const settle = (i: number, answer: Answer) => {
      if (answers[i] !== undefined) return
      answers[i] = answer
      if (--pending === 0) {
        agent.destroy()
        resume(Effect.succeed(answers as ReadonlyArray<Answer>))
      }
    }
    shots.forEach((shot, i) => {
      const headers: Record<string, string> = shot.body === undefined ? {} : { "content-type": "application/json" }
      const request = Http.request({ host: url.hostname, port: url.port, method: shot.method, path: shot.path, agent, headers }, (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          const error = /^application\/json/.test(response.headers["content-type"] ?? "") && response.statusCode! >= 400
            ? (JSON.parse(text) as { readonly error?: string }).error
            : undefined
          settle(i, { status: response.statusCode, error })
        })
      })
      request.on("error", (error: NodeJS.ErrnoException) => settle(i, { status: undefined, error: error.code ?? error.message }))
      request.end(shot.body)
    })
    return Effect.sync(() => agent.destroy())
  })

/** How many answers had each status (or connection error), as `{ "200": n, "503 Overloaded": m, ... }`. */
export const tally = (answers: ReadonlyArray<Answer>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const { error, status } of answers) {
    const key = status === undefined ? `no answer: ${error}` : error === undefined ? String(status) : `${status} ${error}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}
