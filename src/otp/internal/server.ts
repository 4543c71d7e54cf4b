/**
 * The machinery of `Server`: its errors, its defaults and its loop. `../Server.ts` re-exports
 * what users need with its documentation.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type * as Server from "../Server.js"
import { describe } from "./cause.js"
import * as Mailbox from "./mailbox.js"
import * as Reply from "./reply.js"
import * as Sweeper from "./sweeper.js"
import { detachFiber, nativeTracer } from "./tracing.js"

export class ServerStopped extends Schema.TaggedError<ServerStopped>()("ServerStopped", {
  server: Schema.String,
  reason: Schema.String,
  taken: Schema.Boolean
}) {
  override get message(): string {
    return this.taken
      ? `server "${this.server}" stopped (${this.reason}) while it handled the request; ` +
        `its outcome is unknown: check before retrying`
      : `server "${this.server}" is not running (${this.reason}) and did not handle the request; ` +
        `retry once it has been restarted`
  }
}

export class CallTimeout extends Schema.TaggedError<CallTimeout>()("CallTimeout", {
  server: Schema.String,
  timeoutMillis: Schema.Number,
  taken: Schema.Boolean
}) {
  override get message(): string {
    return this.taken
      ? `server "${this.server}" did not answer within ${this.timeoutMillis} ms while it handled the request; ` +
        `its outcome is unknown: check before retrying`
      : `server "${this.server}" did not take the request within ${this.timeoutMillis} ms and never will; ` +
        `it may be overloaded: retry later`
  }
}

export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  server: Schema.String,
  capacity: Schema.Number
}) {
  override get message(): string {
    return `server "${this.server}" has ${this.capacity} messages waiting; retry later`
  }
}

export const defaults = {
  callTimeout: Duration.seconds(5),
  capacity: 1000,
  maxBatch: 1000,
  eventLoopTurn: Duration.millis(10),
  spanName: "Server.handleCalls"
} as const

type ReplyError<E> = E | ServerStopped | CallTimeout

/** A call in the mailbox or in hand. */
class Call<Request, Reply, E> implements Sweeper.Timed {
  readonly _tag = "Call"
  /** Handed to the handler: from then on its outcome is unknown if the reply does not come. */
  taken = false
  /**
   * Answered (or given up on, or timed out): the handler must not see it. Set with the reply, so
   * that the server checks it and marks the call `taken` in one synchronous step: a timeout that
   * fired between a check and the mark would tell a caller `taken: false` of a call then handled.
   */
  answered = false
  constructor(
    /** The server's name, for its `CallTimeout`. */
    readonly server: string,
    /** Its server's count of calls not answered yet. */
    readonly pending: Pending,
    readonly request: Request,
    readonly reply: Deferred.Deferred<Reply, ReplyError<E>>,
    /** Epoch milliseconds of the server's clock; `Infinity` for a call without a timeout. */
    readonly deadline: number,
    readonly timeoutMillis: number,
    /** The caller's span, when its tracer records spans: the handler's work is traced under it. */
    readonly span: Tracer.AnySpan | undefined,
    /** The caller's tracer, which records the handler's spans for it. */
    readonly tracer: Tracer.Tracer
  ) {}
}

/** A server's count of calls sent and not answered yet: `Server.pendingCalls`. */
interface Pending {
  count: number
}

/** Answers `call` once: later answers (a timeout after the reply, a reply after a timeout) change nothing. */
const settle = <Reply, E>(call: Call<unknown, Reply, E>, exit: Exit.Exit<Reply, ReplyError<E>>) => {
  if (!call.answered) call.pending.count--
  call.answered = true
  Deferred.unsafeDone(call.reply, exit)
}

type Envelope<Request, Reply, E, Message> = Call<Request, Reply, E> | { readonly _tag: "Cast"; readonly message: Message }

const givenUp = Exit.interrupt(FiberId.none)

/** Call timeouts watched by one fiber, for one server or for many (see `Server.makeCallTimeouts`). */
export type CallTimeouts = Sweeper.Sweeper<Call<unknown, unknown, unknown>>

export const makeCallTimeouts: Effect.Effect<CallTimeouts, never, Scope.Scope> = Sweeper.make<Call<unknown, unknown, unknown>>(
  (call) =>
    settle(call, Exit.fail(new CallTimeout({ server: call.server, timeoutMillis: call.timeoutMillis, taken: call.taken })))
)

export const start = <State, Request, Reply, E, Message, R, InitError>(
  behaviour: Server.Behaviour<State, Request, Reply, E, Message, R, InitError>,
  options: Server.StartOptions
): Effect.Effect<Server.Server<Request, Reply, E, Message>, InitError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const name = options.name
    const capacity = options.capacity ?? defaults.capacity
    const maxBatch = options.maxBatch ?? defaults.maxBatch
    const turnMillis = Duration.toMillis(Duration.decode(options.eventLoopTurn ?? defaults.eventLoopTurn))
    const spanName = options.spanName ?? defaults.spanName
    const traceCalls = options.traceCalls ?? true
    const mailbox = yield* Mailbox.dropping<Envelope<Request, Reply, E, Message>>(capacity)
    const ended = yield* Deferred.make<void, unknown>()

    // How the server ended, once it has, and who is told then (see `Server.unsafeOnEnd`).
    let end: Exit.Exit<void, unknown> | undefined
    const onEnd: Array<(end: Exit.Exit<void, unknown>) => void> = []

    let state = yield* behaviour.init
    let running = true
    let stoppedReason = "stopped"
    // The batch taken from the mailbox and not yet answered: failed if the server dies mid-batch.
    let inHand: ReadonlyArray<Envelope<Request, Reply, E, Message>> = []

    // Calls in the mailbox or in hand whose reply has not been given yet (see `settle`).
    const pending: Pending = { count: 0 }
    // A call's timeout needs nothing of its server: many servers may share one sweeper.
    const sweeper = (options.callTimeouts ?? (yield* makeCallTimeouts)) as Sweeper.Sweeper<Call<Request, Reply, E>>
    const answer = (call: Call<Request, Reply, E>, exit: Exit.Exit<Reply, ReplyError<E>>) => {
      settle(call, exit)
      if (call.deadline !== Infinity) sweeper.unwatch(call)
    }
    const stopped = (taken: boolean) => new ServerStopped({ server: name, reason: stoppedReason, taken })

    const handleCalls = behaviour.handleCalls
    const handleCall = behaviour.handleCall

    // Hands live calls, already marked taken, to `handleCalls` at once, in order.
    const handleRun = (
      handleCalls: NonNullable<typeof behaviour.handleCalls>,
      live: ReadonlyArray<Call<Request, Reply, E>>
    ) => {
      const requests = live.map((call) => call.request)
      return Effect.map(traced(live, handleCalls(requests, state)), ([exits, next]) => {
        state = next
        for (let j = 0; j < live.length; j++) {
          answer(live[j]!, exits[j] ?? Exit.die(new Error(`${name}: handleCalls gave no reply for request ${j}`)))
        }
      })
    }

    // A batch whose callers are traced runs in a span under the first of them, linked to the
    // others (a span has one parent), recorded by that caller's tracer: the trace of a call shows
    // the work the server did for it, as `Machine` does. Untraced batches pay one loop.
    const traced = <A, X>(live: ReadonlyArray<Call<Request, Reply, E>>, effect: Effect.Effect<A, X, R>) => {
      const first = live.find((call) => call.span !== undefined)
      if (first === undefined) return effect
      const links: Array<Tracer.SpanLink> = []
      for (const call of live) {
        if (call !== first && call.span !== undefined) links.push({ _tag: "SpanLink", span: call.span, attributes: {} })
      }
      return Effect.withSpan(effect, spanName, {
        parent: first.span!,
        links,
        attributes: { "otp.server": name, "otp.batch.size": live.length },
        captureStackTrace: false
      }).pipe(Effect.withTracer(first.tracer))
    }

    // Hands one live call, already marked taken, to `handleCall`; a defect crashes the server, as in OTP.
    const handleOne = (call: Call<Request, Reply, E>) => {
      if (handleCall === undefined) return Effect.dieMessage(`server "${name}" has neither handleCall nor handleCalls`)
      return Effect.flatMap(Effect.exit(traced([call], handleCall(call.request, state))), (exit) => {
        if (Exit.isSuccess(exit)) {
          state = exit.value[1]
          answer(call, Exit.succeed(exit.value[0]))
          return Effect.void
        }
        if (Cause.isFailType(exit.cause)) {
          answer(call, Exit.fail(exit.cause.error))
          return Effect.void
        }
        return Effect.failCause(exit.cause)
      })
    }

    // Calls whose caller gave up (timed out or interrupted) are answered: they are skipped, as
    // `Machine` skips them, checked just before each would reach the handler and, in the same
    // synchronous step, marked taken (see `Call.answered`).
    const handleBatch = (batch: ReadonlyArray<Envelope<Request, Reply, E, Message>>) =>
      Effect.gen(function*() {
        inHand = batch
        let i = 0
        while (i < batch.length) {
          const first = batch[i]!
          if (first._tag === "Cast") {
            if (behaviour.handleCast) state = yield* behaviour.handleCast(first.message, state)
            i++
          } else if (handleCalls === undefined) {
            if (!first.answered) {
              first.taken = true
              yield* handleOne(first)
            }
            i++
          } else {
            // A run of consecutive calls is one batch for `handleCalls`.
            const live: Array<Call<Request, Reply, E>> = []
            for (let envelope = batch[i]; envelope?._tag === "Call"; envelope = batch[++i]) {
              if (envelope.answered) continue
              envelope.taken = true
              live.push(envelope)
            }
            if (live.length > 0) yield* handleRun(handleCalls, live)
          }
        }
        inHand = []
      })

    const loop = Effect.gen(function*() {
      let lastTurn = performance.now()
      while (true) {
        const taken = Chunk.toReadonlyArray(yield* Queue.takeBetween(mailbox, 1, maxBatch))
        yield* Effect.uninterruptible(handleBatch(taken))
        const reason = behaviour.stopWhen?.(state)
        if (reason !== undefined) return yield* Effect.fail(reason)
        // After a batch of several calls (not cut short by maxBatch), its callers have a turn
        // before the next take, so that those who call again join one batch: else the first back
        // is taken alone, and a batch of one alternates with a batch of the rest, each paying a
        // store's fsync (275 batches of one in 1,000 of 100 durable writers). A `yieldNow` is not
        // enough: the callers resume after it.
        const callersTurn = taken.length > 1 && taken.length < maxBatch
        if (turnMillis !== Infinity && (callersTurn || performance.now() - lastTurn >= turnMillis)) {
          yield* eventLoopTurn
          lastTurn = performance.now()
        }
      }
    })

    const failUnanswered = (envelope: Envelope<Request, Reply, E, Message>) => {
      if (envelope._tag === "Call") answer(envelope, Exit.fail(stopped(envelope.taken)))
    }

    // Runs once the loop has ended, whichever way: refuse new messages first, then fail every
    // call in hand and in the mailbox, so no caller is left waiting.
    const shutdown = (exit: Exit.Exit<never, unknown>) =>
      Effect.gen(function*() {
        const crash = Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? exit.cause : undefined
        running = false
        stoppedReason = crash === undefined ? "stopped" : `crashed: ${describe(crash)}`
        inHand.forEach(failUnanswered)
        inHand = []
        const queued = yield* Queue.takeAll(mailbox)
        for (const envelope of queued) failUnanswered(envelope)
        if (behaviour.terminate) {
          const reason: Server.ExitReason = crash === undefined ? { _tag: "Normal" } : { _tag: "Crashed", cause: crash }
          yield* behaviour.terminate(reason, state).pipe(Effect.catchAllCause(Effect.logWarning))
        }
        end = crash === undefined ? Exit.void : Exit.failCause(crash)
        yield* Deferred.done(ended, end)
        for (const f of onEnd.splice(0)) f(end)
      })

    // Forked uninterruptibly so that `shutdown` is in place even if the fiber is stopped before
    // its first step; the loop itself is always interruptible, whoever starts the server.
    const fiber = yield* Effect.uninterruptible(Effect.forkScoped(
      // A server outlives the call that started it: its work is traced under the calls it handles,
      // never under the span its starter happened to be in. The fiber's span and log annotation
      // are set once, as its first steps: `detached` and `annotateLogs` around the loop were each
      // a fiber ref's get, set and restore (about 30 steps of a store's restart of about 560).
      Effect.zipRight(
        Effect.zipRight(detachFiber, FiberRef.update(FiberRef.currentLogAnnotations, HashMap.set<string, unknown>("server", name))),
        Effect.onExit(Effect.interruptible(loop), shutdown)
      )
    ))
    const serverId = fiber.id()

    // The caller waits for its reply; if it is interrupted it gives up, and the server skips the call.
    // Effect's Deferred, as the house plan and issue 8 have it, though it cost more than the
    // one-shot slot it replaced (bench/calls.ts, 5 interleaved rounds against commit 29b7d6a): call
    // round trips 0.83x with 1 caller and 0.46x with 100, KV.put in memory 0.59x, with sync
    // "always" 0.75x. Most of that was `Deferred.unsafeMake` (736 B and about 4 us a reply, where
    // `Reply.make` takes 182 B and 0.35 us) and two interruption handlers per wait (see ./reply.ts).
    const awaitReply = (call: Call<Request, Reply, E>) => Reply.awaitOr(call.reply, () => answer(call, givenUp))

    const call = (request: Request, callOptions?: Server.CallOptions) =>
      Effect.withFiberRuntime((fiber): Effect.Effect<Reply, ReplyError<E> | Overloaded> => {
        if (!running) return Effect.fail(stopped(false))
        const timeout = callOptions?.timeout === undefined ? defaults.callTimeout : Duration.decode(callOptions.timeout)
        const timeoutMillis = Duration.toMillis(timeout)
        const tracer = fiber.currentTracer
        const call = new Call<Request, Reply, E>(
          name,
          pending,
          request,
          Reply.make(serverId),
          timeoutMillis === Infinity
            ? Infinity
            : Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis() + timeoutMillis,
          timeoutMillis,
          tracer === nativeTracer || !traceCalls ? undefined : fiber.currentSpan,
          tracer
        )
        if (!mailbox.unsafeOffer(call)) return Effect.fail(new Overloaded({ server: name, capacity }))
        pending.count++
        // The server may have ended between the check above and the offer, after its last drain.
        if (!running) {
          answer(call, Exit.fail(stopped(false)))
          return Deferred.await(call.reply)
        }
        const wake = call.deadline === Infinity ? undefined : sweeper.watch(call)
        return wake === undefined ? awaitReply(call) : Effect.zipRight(wake, awaitReply(call))
      })

    const cast = (message: Message) =>
      Effect.suspend((): Effect.Effect<void, ServerStopped | Overloaded> => {
        if (!running) return Effect.fail(stopped(false))
        return mailbox.unsafeOffer({ _tag: "Cast", message })
          ? Effect.void
          : Effect.fail(new Overloaded({ server: name, capacity }))
      })

    const server: Server.Server<Request, Reply, E, Message> = {
      name,
      call,
      cast,
      stop: Fiber.interrupt(fiber).pipe(Effect.zipRight(Deferred.await(ended)), Effect.ignore),
      await: Deferred.await(ended),
      unsafeOnEnd: (f) => {
        if (end === undefined) onEnd.push(f)
        else f(end)
      },
      isRunning: () => running,
      pendingCalls: () => pending.count,
      // Negative while the loop waits on an empty mailbox: that is none waiting.
      mailboxSize: () => Math.max(0, Option.getOrElse(mailbox.unsafeSize(), () => 0))
    }
    return server
  })

// A server and its callers resume one another through microtasks, which never give Node's event
// loop a turn: under a steady stream of calls, timers (call timeouts among them) and I/O would
// starve. The loop gives the event loop a turn at least every `eventLoopTurn` while it is busy.
const eventLoopTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
