// Test children: real `Server`s that record their starts and stops, and crash or stop on demand.
import { Duration, Effect, Ref } from "effect"
import * as Server from "../../src/otp/Server.js"

export type Command = "ping" | "crash"

export interface Workers {
  /** "start:a", "stop:a" in the order they happened. */
  readonly events: Ref.Ref<ReadonlyArray<string>>
  /** The running server of each id, as last started. */
  readonly handles: Map<string, Server.Server<Command, string>>
  /** A child start effect for `id`; `terminateFor` makes its terminate hook that slow. */
  readonly start: (id: string, terminateFor?: Duration.DurationInput) => ReturnType<typeof startWorker>
  /** Makes the current `id` die, as a handler defect would. */
  readonly crash: (id: string) => Effect.Effect<void>
  /** Stops the current `id` normally. */
  readonly stop: (id: string) => Effect.Effect<void>
  /** Waits until `check` holds, letting other fibers run. */
  readonly eventually: (check: () => Effect.Effect<boolean>) => Effect.Effect<void>
}

const startWorker = (
  id: string,
  events: Ref.Ref<ReadonlyArray<string>>,
  handles: Map<string, Server.Server<Command, string>>,
  terminateFor: Duration.DurationInput | undefined
) =>
  Effect.gen(function*() {
    yield* Ref.update(events, (all) => [...all, `start:${id}`])
    const server = yield* Server.start<null, Command, string>({
      init: Effect.succeed(null),
      handleCall: (command, state) =>
        command === "crash" ? Effect.die(new Error(`${id} crashed`)) : Effect.succeed([id, state] as const),
      terminate: () =>
        Effect.zipRight(
          terminateFor === undefined ? Effect.void : Effect.sleep(terminateFor),
          Ref.update(events, (all) => [...all, `stop:${id}`])
        )
    }, { name: id })
    handles.set(id, server)
    return server
  })

export const makeWorkers: Effect.Effect<Workers> = Effect.gen(function*() {
  const events = yield* Ref.make<ReadonlyArray<string>>([])
  const handles = new Map<string, Server.Server<Command, string>>()
  const current = (id: string) => {
    const server = handles.get(id)
    if (server === undefined) throw new Error(`no worker ${id}`)
    return server
  }
  const eventually = (check: () => Effect.Effect<boolean>) =>
    Effect.gen(function*() {
      for (let i = 0; i < 10_000; i++) {
        if (yield* check()) return
        yield* Effect.yieldNow()
      }
      return yield* Effect.dieMessage("the awaited condition never held")
    })
  return {
    events,
    handles,
    start: (id, terminateFor) => startWorker(id, events, handles, terminateFor),
    crash: (id) =>
      Effect.suspend(() => {
        const server = current(id)
        return Effect.zipRight(Effect.exit(server.call("crash")), Effect.exit(server.await))
      }),
    stop: (id) => Effect.suspend(() => current(id).stop),
    eventually
  }
})

/** The events recorded since `from`. */
export const since = (workers: Workers, from: number) =>
  Effect.map(Ref.get(workers.events), (all) => all.slice(from))
