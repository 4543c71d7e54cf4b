/**
 * A GenServer on Effect: a fiber that owns its state and a bounded mailbox.
 *
 * Other fibers talk to it with {@link call} (a request and a one-shot reply), {@link cast}
 * (a message with no reply) and {@link stop}. The server handles its mailbox in order, one
 * message or one batch of calls at a time, so its state needs no locks.
 *
 * Guarantees, as OTP's `GenServer` gives them:
 * - Messages from one caller are handled in the order they were sent (calls and casts alike).
 * - A caller never hangs: when the server stops or dies, every caller waiting on it, and every
 *   request still in its mailbox, fails with {@link ServerStopped}. A call that is not answered
 *   within its timeout (default 5 seconds) fails with {@link CallTimeout}.
 * - The mailbox is bounded (default 1,000 messages): a call or cast to a full mailbox fails at
 *   once with {@link Overloaded}, so memory stays bounded under overload.
 * - A request whose caller has already given up (timed out or was interrupted) is skipped.
 * - With `handleCalls`, the server takes every call waiting in its mailbox at once and handles
 *   them as one batch: the way to amortise an expensive step such as an fsync.
 * - A batch is handled without interruption: {@link stop} lets the batch in hand finish, then
 *   runs `terminate` and fails whatever is still queued.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Reply as ReplySlot } from "./internal/reply.js"

/** The server has stopped or crashed; the request was not (or not knowingly) handled. */
export class ServerStopped extends Schema.TaggedError<ServerStopped>()("ServerStopped", {
  server: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `server "${this.server}" is not running (${this.reason}); retry once it has been restarted`
  }
}

/** The server did not answer a call within the call's timeout. */
export class CallTimeout extends Schema.TaggedError<CallTimeout>()("CallTimeout", {
  server: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `server "${this.server}" did not answer within ${this.timeoutMillis} ms; it may be overloaded`
  }
}

/** The server's mailbox is full; nothing was queued. */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  server: Schema.String,
  capacity: Schema.Number
}) {
  override get message(): string {
    return `server "${this.server}" has ${this.capacity} messages waiting; retry later`
  }
}

/** Why a server ended, as passed to `terminate`. */
export type ExitReason =
  /** {@link stop} was called or the server's scope was closed. */
  | { readonly _tag: "Normal" }
  /** A handler died; the cause says how. */
  | { readonly _tag: "Crashed"; readonly cause: Cause.Cause<unknown> }

/**
 * What a server does. `init` builds the first state; `handleCall` or `handleCalls` answers
 * calls; `handleCast` takes casts; `terminate` runs once when the server ends.
 *
 * A handler that fails (the `E` channel) answers that caller with the failure and leaves the
 * state as it was. A handler that dies (a defect) crashes the server: the callers in hand and in
 * the mailbox get {@link ServerStopped} and `terminate` runs with reason `Crashed`.
 */
export interface Behaviour<State, Request, Reply, E = never, Message = never, R = never> {
  /** Builds the initial state. If it fails, {@link start} fails with the same error. */
  readonly init: Effect.Effect<State, unknown, R>
  /** Answers one call, returning the reply and the next state. */
  readonly handleCall?: (request: Request, state: State) => Effect.Effect<readonly [Reply, State], E, R>
  /**
   * Answers every call waiting in the mailbox at once, in order: one `Exit` per request, and the
   * next state. Takes precedence over `handleCall`.
   */
  readonly handleCalls?: (
    requests: ReadonlyArray<Request>,
    state: State
  ) => Effect.Effect<readonly [ReadonlyArray<Exit.Exit<Reply, E>>, State], never, R>
  /** Takes one cast and returns the next state. Without it, casts are dropped. */
  readonly handleCast?: (message: Message, state: State) => Effect.Effect<State, never, R>
  /**
   * Checked after each batch: a defined result ends the server as a crash with that reason
   * (OTP's `{:stop, reason, reply, state}`), after the batch's replies have been sent.
   */
  readonly stopWhen?: (state: State) => unknown
  /** Runs once as the server ends, with the last state. */
  readonly terminate?: (reason: ExitReason, state: State) => Effect.Effect<void, never, R>
}

/** Options of {@link start}. */
export interface StartOptions {
  /** Names the server in errors and logs. */
  readonly name: string
  /** How many messages the mailbox holds (default 1,000). */
  readonly capacity?: number
  /** The most calls handed to `handleCalls` at once (default 1,000). */
  readonly maxBatch?: number
}

/** Options of {@link call}. */
export interface CallOptions {
  /** How long to wait for the reply (default 5 seconds; `Duration.infinity` waits forever). */
  readonly timeout?: Duration.DurationInput
}

/** A running server; see the module documentation. */
export interface Server<Request, Reply, E = never, Message = never> {
  readonly name: string
  /** Sends a request and waits for the reply. */
  readonly call: (
    request: Request,
    options?: CallOptions
  ) => Effect.Effect<Reply, E | ServerStopped | CallTimeout | Overloaded>
  /** Queues a message and returns at once. */
  readonly cast: (message: Message) => Effect.Effect<void, ServerStopped | Overloaded>
  /** Stops the server after the batch in hand, runs `terminate`, and waits until it has ended. */
  readonly stop: Effect.Effect<void>
  /** Waits until the server has ended: success after a stop, failure with the cause of a crash. */
  readonly await: Effect.Effect<void, unknown>
  /** Whether the server still takes messages. */
  readonly isRunning: () => boolean
}

/** The default call timeout, as OTP's. */
export const defaultCallTimeout: Duration.Duration = Duration.seconds(5)

type Envelope<Request, Reply, E, Message> =
  | { readonly _tag: "Call"; readonly request: Request; readonly reply: ReplySlot<Reply, E | ServerStopped | CallTimeout> }
  | { readonly _tag: "Cast"; readonly message: Message }

/**
 * Starts a server in the current scope: `init` runs first (its failure fails `start`), then the
 * server's fiber. Closing the scope stops the server as {@link stop} does.
 */
export const start = <State, Request, Reply, E = never, Message = never, R = never>(
  behaviour: Behaviour<State, Request, Reply, E, Message, R>,
  options: StartOptions
): Effect.Effect<Server<Request, Reply, E, Message>, unknown, R | Scope.Scope> =>
  Effect.gen(function*() {
    const name = options.name
    const capacity = options.capacity ?? 1000
    const maxBatch = options.maxBatch ?? 1000
    const serverScope = yield* Effect.scope
    const mailbox = yield* Queue.dropping<Envelope<Request, Reply, E, Message>>(capacity)
    const ended = yield* Deferred.make<void, unknown>()
    const handleCalls = behaviour.handleCalls ?? sequentially(behaviour.handleCall)

    let state = yield* behaviour.init
    let running = true
    let stoppedReason = "stopped"
    // The calls taken from the mailbox and not yet answered: failed if the server dies mid-batch.
    let inHand: Array<Envelope<Request, Reply, E, Message>> = []

    const stopped = () => new ServerStopped({ server: name, reason: stoppedReason })
    const failCall = (envelope: Envelope<Request, Reply, E, Message>) => {
      if (envelope._tag === "Call") envelope.reply.complete(Exit.fail(stopped()))
    }

    const handleBatch = (batch: Array<Envelope<Request, Reply, E, Message>>) =>
      Effect.gen(function*() {
        inHand = batch
        let i = 0
        while (i < batch.length) {
          const first = batch[i]!
          if (first._tag === "Cast") {
            if (behaviour.handleCast) state = yield* behaviour.handleCast(first.message, state)
            i++
            continue
          }
          // A run of consecutive calls is one batch; calls whose caller gave up are skipped.
          const requests: Array<Request> = []
          const replies: Array<ReplySlot<Reply, E | ServerStopped | CallTimeout>> = []
          for (; i < batch.length; i++) {
            const envelope = batch[i]!
            if (envelope._tag !== "Call") break
            if (envelope.reply.done) continue
            requests.push(envelope.request)
            replies.push(envelope.reply)
          }
          if (requests.length === 0) continue
          const [exits, next] = yield* handleCalls(requests, state)
          state = next
          for (let j = 0; j < replies.length; j++) {
            replies[j]!.complete(exits[j] ?? Exit.die(new Error(`${name}: no reply for request ${j}`)))
          }
        }
        inHand = []
      })

    const loop = Effect.gen(function*() {
      let lastTurn = performance.now()
      while (true) {
        const batch = yield* Queue.takeBetween(mailbox, 1, maxBatch)
        yield* Effect.uninterruptible(handleBatch(Array.from(batch)))
        const reason = behaviour.stopWhen?.(state)
        if (reason !== undefined) return yield* Effect.fail(reason)
        if (performance.now() - lastTurn > eventLoopTurnMillis) {
          yield* eventLoopTurn
          lastTurn = performance.now()
        }
      }
    })

    // Runs once the loop has ended, whichever way: refuse new messages first, then fail every
    // call in hand and in the mailbox, so no caller is left waiting.
    const shutdown = (exit: Exit.Exit<never, unknown>) =>
      Effect.gen(function*() {
        const crashed = Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
        running = false
        stoppedReason = crashed && Exit.isFailure(exit) ? `crashed: ${describe(exit.cause)}` : "stopped"
        inHand.forEach(failCall)
        inHand = []
        const queued = yield* Queue.takeAll(mailbox)
        for (const envelope of queued) failCall(envelope)
        if (behaviour.terminate) {
          const reason: ExitReason = crashed && Exit.isFailure(exit)
            ? { _tag: "Crashed", cause: exit.cause }
            : { _tag: "Normal" }
          yield* behaviour.terminate(reason, state).pipe(Effect.catchAllCause(Effect.logWarning))
        }
        if (crashed && Exit.isFailure(exit)) yield* Deferred.failCause(ended, exit.cause)
        else yield* Deferred.succeed(ended, undefined)
      })

    // Forked uninterruptibly so that `shutdown` is in place even if the fiber is stopped before
    // its first step; the loop itself is always interruptible, whoever starts the server.
    const fiber = yield* Effect.uninterruptible(
      Effect.interruptible(loop).pipe(
        Effect.onExit(shutdown),
        Effect.annotateLogs("server", name),
        Effect.forkScoped
      )
    )

    // Calls with a timeout wait in `timed` until answered (a reply leaves the set as it completes)
    // or expired. One sweeper fiber sleeps until the earliest deadline, instead of a timer per call.
    const timed = new Set<ReplySlot<Reply, E | ServerStopped | CallTimeout>>()
    let wakeAt = Infinity
    let sweeper: Fiber.RuntimeFiber<void> | undefined
    const expire = (now: number) => {
      let earliest = Infinity
      for (const reply of timed) {
        if (reply.deadline <= now) {
          reply.complete(Exit.fail(new CallTimeout({ server: name, timeoutMillis: reply.timeoutMillis })))
        } else if (reply.deadline < earliest) earliest = reply.deadline
      }
      return earliest
    }
    const sweepFrom = (at: number) =>
      Effect.gen(function*() {
        let next = at
        while (next !== Infinity) {
          const now = yield* Clock.currentTimeMillis
          if (next > now) yield* Effect.sleep(Duration.millis(next - now))
          next = expire(yield* Clock.currentTimeMillis)
          wakeAt = next
        }
      })
    // A deadline earlier than the sweeper's next look replaces the sweeper.
    const sweepBy = (deadline: number) => {
      wakeAt = deadline
      const previous = sweeper
      return Effect.forkIn(Effect.interruptible(sweepFrom(deadline)), serverScope).pipe(
        Effect.flatMap((fiber) => {
          sweeper = fiber
          return previous === undefined ? Effect.void : Fiber.interruptFork(previous)
        })
      )
    }

    const call = (request: Request, callOptions?: CallOptions) =>
      Effect.clockWith((clock): Effect.Effect<Reply, E | ServerStopped | CallTimeout | Overloaded> => {
        if (!running) return Effect.fail(stopped())
        const timeout = callOptions?.timeout === undefined ? defaultCallTimeout : Duration.decode(callOptions.timeout)
        const finite = Duration.isFinite(timeout)
        const timeoutMillis = Duration.toMillis(timeout)
        const reply = new ReplySlot<Reply, E | ServerStopped | CallTimeout>(
          finite ? clock.unsafeCurrentTimeMillis() + timeoutMillis : Infinity,
          timeoutMillis,
          finite ? timed : undefined
        )
        if (!mailbox.unsafeOffer({ _tag: "Call", request, reply })) {
          return Effect.fail(new Overloaded({ server: name, capacity }))
        }
        // The server may have ended between the check above and the offer, after its last drain.
        if (!running) reply.complete(Exit.fail(stopped()))
        if (reply.done || reply.deadline >= wakeAt) return reply.await
        return Effect.zipRight(sweepBy(reply.deadline), reply.await)
      })

    const cast = (message: Message) =>
      Effect.suspend((): Effect.Effect<void, ServerStopped | Overloaded> => {
        if (!running) return Effect.fail(stopped())
        return mailbox.unsafeOffer({ _tag: "Cast", message })
          ? Effect.void
          : Effect.fail(new Overloaded({ server: name, capacity }))
      })

    const server: Server<Request, Reply, E, Message> = {
      name,
      call,
      cast,
      stop: Fiber.interrupt(fiber).pipe(Effect.zipRight(Deferred.await(ended)), Effect.ignore),
      await: Deferred.await(ended),
      isRunning: () => running
    }
    return server
  })

// A server and its callers resume one another through microtasks, which never give Node's event
// loop a turn: under a steady stream of calls, timers (call timeouts among them) and I/O would
// starve. The server gives the event loop a turn at least this often while it is busy.
const eventLoopTurnMillis = 10
const eventLoopTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

// The first line of a cause, for error messages that stay one line long.
const describe = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause).split("\n")[0] ?? "unknown"

const sequentially = <State, Request, Reply, E, R>(
  handleCall: Behaviour<State, Request, Reply, E, never, R>["handleCall"]
) =>
(requests: ReadonlyArray<Request>, state: State) =>
  Effect.gen(function*() {
    const exits: Array<Exit.Exit<Reply, E>> = []
    for (const request of requests) {
      if (!handleCall) {
        exits.push(Exit.die(new Error("this server has no handleCall")))
        continue
      }
      const exit = yield* Effect.exit(handleCall(request, state))
      if (Exit.isSuccess(exit)) {
        exits.push(Exit.succeed(exit.value[0]))
        state = exit.value[1]
      } else if (Cause.isFailType(exit.cause)) {
        exits.push(Exit.fail(exit.cause.error))
      } else {
        // A defect crashes the server, as in OTP.
        return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
      }
    }
    return [exits, state] as const
  })

/** Sends `request` to `server` and waits for the reply. See {@link Server.call}. */
export const call = <Request, Reply, E, Message>(
  server: Server<Request, Reply, E, Message>,
  request: Request,
  options?: CallOptions
): Effect.Effect<Reply, E | ServerStopped | CallTimeout | Overloaded> => server.call(request, options)

/** Queues `message` for `server`. See {@link Server.cast}. */
export const cast = <Request, Reply, E, Message>(
  server: Server<Request, Reply, E, Message>,
  message: Message
): Effect.Effect<void, ServerStopped | Overloaded> => server.cast(message)

/** Stops `server`. See {@link Server.stop}. */
export const stop = <Request, Reply, E, Message>(server: Server<Request, Reply, E, Message>): Effect.Effect<void> =>
  server.stop
