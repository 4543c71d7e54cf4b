/**
 * OTP's building blocks on Effect, for your own actors.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.js"
