/**
 * A GenServer on Effect: a fiber that owns its state and a bounded mailbox.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Server } from "effect-kv/otp"
 *
 * const counter = Server.start<number, "get" | "inc", number>({
 *   init: Effect.succeed(0),
 *   handleCall: (request, n) => Effect.succeed(request === "inc" ? [n + 1, n + 1] as const : [n, n] as const)
 * }, { name: "counter" }) // scoped: closing the scope stops it
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* counter
 *   yield* server.call("inc")                         // 1
 *   return yield* server.call("get", { timeout: "1 second" })
 * }))
 * ```
 *
 * Other fibers talk to a server with {@link call} (a request and a reply, carried by an Effect
 * `Deferred` that the server completes), {@link cast} (a message with no reply) and {@link stop}.
 * The server handles its mailbox in order, one message or one batch of calls at a time, so its
 * state needs no locks.
 *
 * ## Callbacks (a {@link Behaviour})
 *
 * | callback | when | returns |
 * | --- | --- | --- |
 * | `init` | once, inside {@link start} | the first state; a failure fails `start` with the same error |
 * | `handleCall(request, state)` | for each call | `[reply, nextState]`; a failure answers that caller only |
 * | `handleCalls(requests, state)` | for every call waiting at once, in order | `[exits, nextState]`: one `Exit` per request |
 * | `handleCast(message, state)` | for each cast | the next state (without it, casts are dropped) |
 * | `stopWhen(state)` | after each batch | `undefined` to go on; anything else ends the server as a crash with that reason |
 * | `terminate(reason, state)` | once, as the server ends | nothing; `reason` is `Normal` or `Crashed` with the cause |
 *
 * A handler that fails (its `E` channel) answers that caller with the failure and keeps the state
 * as it was. A handler that dies (a defect) crashes the server, as an exception does in OTP.
 * `handleCalls` takes precedence over `handleCall`; a server with neither crashes on its first call.
 *
 * ## What a caller gets
 *
 * - the reply, or the handler's failure `E`;
 * - {@link Overloaded} at once when the mailbox is full: nothing was queued;
 * - {@link CallTimeout} when no reply came within the call's timeout (default 5 seconds);
 * - {@link ServerStopped} when the server is not running, or stops or crashes before it answers.
 *
 * `CallTimeout` and `ServerStopped` say with `taken` whether the handler had the request:
 *
 * | `taken` | meaning | what to do |
 * | --- | --- | --- |
 * | `false` | the request never reached the handler and never will: it timed out in the mailbox (the server then skips it), or the server stopped before taking it | retry: nothing was done |
 * | `true` | the handler had it when the timeout fired, or when the server crashed | its outcome is unknown: check before retrying |
 *
 * ## Guarantees, as OTP's `GenServer` gives them
 *
 * - Messages from one caller are handled in the order they were sent (calls and casts alike).
 * - A caller never hangs: when the server stops or dies, every caller waiting on it, and every
 *   request still in its mailbox, fails with {@link ServerStopped}.
 * - The mailbox is bounded (`capacity`, default 1,000 messages), so memory stays bounded under
 *   overload.
 * - A call whose caller has already given up (timed out or was interrupted) is skipped: it is
 *   answered before the handler would see it.
 * - With `handleCalls`, the server takes every call waiting in its mailbox (up to `maxBatch`,
 *   default 1,000) and handles them as one batch: the way to amortise an expensive step such as
 *   an fsync.
 * - A batch is handled without interruption: {@link stop} lets the batch in hand finish, then
 *   runs `terminate` and fails whatever is still queued (`taken: false`).
 * - A busy server gives Node's event loop a turn at least every `eventLoopTurn` (default 10 ms),
 *   so timers and I/O are not starved by a steady stream of calls.
 *
 * Call timeouts cost no fiber per call: one fiber per server sleeps until the earliest deadline.
 *
 * ## Tracing
 *
 * When the caller's tracer records spans (see `Tracing`), its call carries its span through the
 * mailbox, and the handler runs a batch of such calls in a span (`spanName`) whose parent is the
 * first traced caller's span, linked to the others', recorded by that caller's tracer: the trace of
 * a call shows the work the server did for it, and what that work called in turn. Without a
 * recording tracer nothing is made.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/server.js"

/**
 * The server is not running, or it stopped or crashed before it answered. `reason` says why
 * (`stopped`, or `crashed: ` and the first line of the cause). `taken: false`: the request was
 * never handed to the handler and never will be (retry is safe); `taken: true`: the handler had
 * it when the server crashed, so its outcome is unknown.
 *
 * @since 0.1.0
 * @category errors
 */
export const ServerStopped: typeof internal.ServerStopped = internal.ServerStopped

/**
 * @since 0.1.0
 * @category errors
 */
export type ServerStopped = internal.ServerStopped

/**
 * No reply came within the call's timeout (`timeoutMillis`). `taken: false`: the request was
 * still in the mailbox; the server will skip it (retry is safe). `taken: true`: the handler had
 * it; it may still finish, and its outcome is unknown.
 *
 * @since 0.1.0
 * @category errors
 */
export const CallTimeout: typeof internal.CallTimeout = internal.CallTimeout

/**
 * @since 0.1.0
 * @category errors
 */
export type CallTimeout = internal.CallTimeout

/**
 * The mailbox holds `capacity` messages already; nothing was queued (retry later).
 *
 * @since 0.1.0
 * @category errors
 */
export const Overloaded: typeof internal.Overloaded = internal.Overloaded

/**
 * @since 0.1.0
 * @category errors
 */
export type Overloaded = internal.Overloaded

/**
 * Why a server ended, as passed to `terminate`.
 *
 * - `Normal`: {@link stop} was called or the server's scope was closed.
 * - `Crashed`: a handler died, or `stopWhen` gave a reason; the cause says how.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitReason =
  | { readonly _tag: "Normal" }
  | { readonly _tag: "Crashed"; readonly cause: Cause.Cause<unknown> }

/**
 * What a server does: its callbacks, as a GenServer module's. Type parameters: `State` the
 * server's state; `Request` and `Reply` of calls; `E` a handler's failure, answered to its
 * caller; `Message` of casts; `R` what the callbacks need; `InitError` how `init` fails.
 *
 * @since 0.1.0
 * @category models
 */
export interface Behaviour<State, Request, Reply, E = never, Message = never, R = never, InitError = never> {
  /**
   * Builds the first state, inside {@link start} and before the server takes any message. If it
   * fails, `start` fails with the same error and no server runs (OTP's `{:stop, reason}`).
   */
  readonly init: Effect.Effect<State, InitError, R>
  /**
   * Answers one call: succeed with `[reply, nextState]` (OTP's `{:reply, reply, state}`), or fail
   * with `E` to answer that caller with the failure and keep the state. A defect crashes the server.
   */
  readonly handleCall?: (request: Request, state: State) => Effect.Effect<readonly [Reply, State], E, R>
  /**
   * Answers every call waiting in the mailbox at once (up to `maxBatch`), in order: one `Exit` per
   * request, at the same index, and the next state. Calls whose caller gave up are left out. Takes
   * precedence over `handleCall`. A defect crashes the server and every call of the batch fails
   * with `ServerStopped` (`taken: true`).
   */
  readonly handleCalls?: (
    requests: ReadonlyArray<Request>,
    state: State
  ) => Effect.Effect<readonly [ReadonlyArray<Exit.Exit<Reply, E>>, State], never, R>
  /** Takes one cast and returns the next state (OTP's `{:noreply, state}`). Without it, casts are dropped. */
  readonly handleCast?: (message: Message, state: State) => Effect.Effect<State, never, R>
  /**
   * Checked after each batch: `undefined` goes on; any other value ends the server as a crash with
   * that value as the reason (OTP's `{:stop, reason, reply, state}`), after the batch's replies
   * have been sent.
   */
  readonly stopWhen?: (state: State) => unknown
  /**
   * Runs once as the server ends, with the reason and the last state, after every waiting caller
   * has been answered. A failure or defect here is logged and ignored.
   */
  readonly terminate?: (reason: ExitReason, state: State) => Effect.Effect<void, never, R>
}

/**
 * Options of {@link start}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /** Names the server in errors and logs. */
  readonly name: string
  /** How many messages the mailbox holds (default 1,000); past it, calls and casts get `Overloaded`. */
  readonly capacity?: number
  /** The most calls handed to `handleCalls` at once (default 1,000). */
  readonly maxBatch?: number
  /**
   * How long the server may stay busy before it gives Node's event loop a turn (default 10 ms);
   * it gives one after a batch of several calls too, so that their callers, calling again, join
   * the next batch together. `Duration.zero` yields after every batch; `Duration.infinity` never
   * yields, for servers whose callers already let the event loop run (at the risk of starving
   * timers and I/O under load).
   *
   * @since 0.2.0
   */
  readonly eventLoopTurn?: Duration.DurationInput
  /**
   * The name of the span a batch of traced calls runs in (default `Server.handleCalls`); see
   * `Tracing`. Its attributes are `otp.server` (the server's name) and `otp.batch.size`.
   *
   * @since 0.2.0
   */
  readonly spanName?: string
  /**
   * Whether calls carry their callers' spans through the mailbox (default true); see `Tracing`.
   *
   * @since 0.2.0
   */
  readonly traceCalls?: boolean
  /**
   * Watches the server's call timeouts with the fiber of these, shared with other servers, rather
   * than with one of its own (default: its own); see {@link makeCallTimeouts}.
   *
   * @since 0.2.0
   */
  readonly callTimeouts?: CallTimeouts
}

/**
 * The call timeouts of many servers, watched by one fiber that sleeps until the earliest deadline.
 * Servers that come and go (a store restarted after each crash) share one, made in a scope that
 * outlives them, rather than each starting a fiber and a timer at its first call.
 *
 * @since 0.2.0
 * @category models
 */
export interface CallTimeouts extends internal.CallTimeouts {}

/**
 * Makes {@link CallTimeouts} whose fiber lives as long as the current scope: pass them as
 * `callTimeouts` to the servers that share them.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeCallTimeouts: Effect.Effect<CallTimeouts, never, Scope.Scope> = internal.makeCallTimeouts

/**
 * Options of {@link call}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** How long to wait for the reply (default 5 seconds; `Duration.infinity` waits forever). */
  readonly timeout?: Duration.DurationInput
}

/**
 * A running server; see the module documentation. It is a child for a `Supervisor`: `await` ends
 * when it ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server<Request, Reply, E = never, Message = never> {
  /** The name given in {@link StartOptions}. */
  readonly name: string
  /** Sends a request and waits for the reply; see the module documentation for what can fail. */
  readonly call: (
    request: Request,
    options?: CallOptions
  ) => Effect.Effect<Reply, E | ServerStopped | CallTimeout | Overloaded>
  /** Queues a message and returns at once; fails with `Overloaded` or `ServerStopped` (`taken: false`). */
  readonly cast: (message: Message) => Effect.Effect<void, ServerStopped | Overloaded>
  /** Stops the server after the batch in hand, runs `terminate`, and waits until it has ended. */
  readonly stop: Effect.Effect<void>
  /** Waits until the server has ended: success after a stop, failure with the cause of a crash. */
  readonly await: Effect.Effect<void, unknown>
  /**
   * Calls `f` once the server has ended, with how {@link Server.await} ends, at once if it
   * already has; `f` must not throw. What a supervisor and a registry watch it with.
   *
   * @since 0.2.0
   */
  readonly unsafeOnEnd: (f: (end: Exit.Exit<void, unknown>) => void) => void
  /** Whether the server still takes messages. */
  readonly isRunning: () => boolean
  /**
   * How many messages wait in the mailbox now.
   *
   * @since 0.2.0
   */
  readonly mailboxSize: () => number
  /**
   * How many calls were sent and not answered yet (waiting in the mailbox or being handled): a
   * server with any is not idle.
   *
   * @since 0.2.0
   */
  readonly pendingCalls: () => number
}

/**
 * The defaults of {@link start} and {@link call}: a call timeout of 5 seconds (as OTP's), a
 * mailbox of 1,000 messages, batches of at most 1,000 calls, an event-loop turn every 10 ms.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaults: {
  readonly callTimeout: Duration.Duration
  readonly capacity: number
  readonly maxBatch: number
  readonly eventLoopTurn: Duration.Duration
  readonly spanName: string
} = internal.defaults

/**
 * The default call timeout, 5 seconds, as OTP's.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCallTimeout: Duration.Duration = internal.defaults.callTimeout

/**
 * Starts a server in the current scope: `init` runs first (its failure fails `start`, and no
 * server runs), then the server's fiber. Closing the scope stops the server as {@link stop} does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: <State, Request, Reply, E = never, Message = never, R = never, InitError = never>(
  behaviour: Behaviour<State, Request, Reply, E, Message, R, InitError>,
  options: StartOptions
) => Effect.Effect<Server<Request, Reply, E, Message>, InitError, R | Scope.Scope> = internal.start

/**
 * Sends `request` to `server` and waits for the reply (OTP's `GenServer.call`). See {@link Server.call}.
 *
 * @since 0.1.0
 * @category utils
 */
export const call = <Request, Reply, E, Message>(
  server: Server<Request, Reply, E, Message>,
  request: Request,
  options?: CallOptions
): Effect.Effect<Reply, E | ServerStopped | CallTimeout | Overloaded> => server.call(request, options)

/**
 * Queues `message` for `server` and returns at once (OTP's `GenServer.cast`). See {@link Server.cast}.
 *
 * @since 0.1.0
 * @category utils
 */
export const cast = <Request, Reply, E, Message>(
  server: Server<Request, Reply, E, Message>,
  message: Message
): Effect.Effect<void, ServerStopped | Overloaded> => server.cast(message)

/**
 * Stops `server` and waits until it has ended (OTP's `GenServer.stop`). See {@link Server.stop}.
 *
 * @since 0.1.0
 * @category utils
 */
export const stop = <Request, Reply, E, Message>(server: Server<Request, Reply, E, Message>): Effect.Effect<void> =>
  server.stop
