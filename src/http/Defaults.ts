/**
 * Where and how long the server listens when not told: constants of their own module, so that the
 * CLI can show them in `serve --help` without loading the server.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"

/**
 * The interface the server listens on when none is given: this machine only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultHost = "127.0.0.1"

/**
 * The port the server listens on when none is given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPort = 4000

/**
 * How long a request waits for the server itself when `requestTimeout` is not given: 5 seconds.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaultRequestTimeout: Duration.Duration = Duration.seconds(5)
