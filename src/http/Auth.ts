/**
 * The bearer token: when the server has one, every route but `/health` needs
 * `Authorization: Bearer <token>`.
 *
 * @since 0.1.0
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createHash, timingSafeEqual } from "node:crypto"
import { Unauthorized, UnauthorizedResponse } from "./Errors.js"

/**
 * Checks the request's bearer token; declared on the groups that need it.
 *
 * @since 0.1.0
 * @category middleware
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("effect-kv/http/Authorization", {
  failure: UnauthorizedResponse,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/**
 * Checks the bearer token of `GET /metrics`: the server's token, unless the server makes its
 * metrics public (`metricsPublic`), as a scraper may hold no secret.
 *
 * @since 0.2.0
 * @category middleware
 */
export class MetricsAuthorization extends HttpApiMiddleware.Tag<MetricsAuthorization>()("effect-kv/http/MetricsAuthorization", {
  failure: UnauthorizedResponse,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// Digests have one length whatever the tokens' lengths, so the comparison leaks neither.
const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/**
 * The check for `token`; without a token (or with an empty one, which no header could fail) every request passes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (token: string | undefined): Layer.Layer<Authorization> => Layer.succeed(Authorization, check(token))

/**
 * The check of `GET /metrics`: `token`'s, or none when `metricsPublic`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMetrics = (token: string | undefined, metricsPublic: boolean): Layer.Layer<MetricsAuthorization> =>
  Layer.succeed(MetricsAuthorization, check(metricsPublic ? undefined : token))

/**
 * Whether a server with `token` asks for one: not when none is set, nor an empty one.
 *
 * @since 0.2.0
 * @category utils
 */
export const needsToken = (token: string | undefined): token is string => token !== undefined && token !== ""

/**
 * Whether a bearer token (the `Authorization` header past its `Bearer `) is `token`, compared in
 * constant time; without a token (or with an empty one) every request passes.
 *
 * @since 0.2.0
 * @category utils
 */
export const tokenMatches = (token: string | undefined): (given: string) => boolean => {
  if (!needsToken(token)) return () => true
  const expected = digest(token)
  return (given) => timingSafeEqual(digest(given), expected)
}

const check = (token: string | undefined) => {
  if (!needsToken(token)) return { bearer: () => Effect.void }
  const matches = tokenMatches(token)
  const refused = new Unauthorized({
    error: "Unauthorized",
    message: "this server needs a token: send the header \"Authorization: Bearer <token>\""
  })
  return {
    bearer: (given: Redacted.Redacted<string>) => matches(Redacted.value(given)) ? Effect.void : Effect.fail(refused)
  }
}
