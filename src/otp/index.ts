/**
 * OTP's building blocks on Effect, for your own actors: import them as namespaces,
 * `import { Server, Supervisor } from "effect-kv/otp"`.
 *
 * @since 0.1.0
 */

/**
 * A GenServer: a fiber with its state, a bounded mailbox, calls, casts and a stop.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Server from "./Server.js"

/**
 * A supervisor with OTP's strategies, restart types and restart intensity.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Supervisor from "./Supervisor.js"

/**
 * A supervisor of children started at run time, with a cap.
 *
 * @since 0.1.0
 * @category modules
 */
export * as DynamicSupervisor from "./DynamicSupervisor.js"

/**
 * Unique names to running children, freed when a child ends.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Registry from "./Registry.js"

/**
 * Spans made only when a tracer records them; servers carry their callers' spans.
 *
 * @since 0.2.0
 * @category modules
 */
export * as Tracing from "./Tracing.js"
