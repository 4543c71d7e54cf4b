/**
 * OTP's building blocks on Effect, for your own actors.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.js"
export * as Supervisor from "./Supervisor.js"
export * as DynamicSupervisor from "./DynamicSupervisor.js"
export * as Registry from "./Registry.js"
