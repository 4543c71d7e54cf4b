/**
 * `serve --otlp-url`: the server's spans sent to an OpenTelemetry collector over OTLP/HTTP (JSON),
 * through `@effect/opentelemetry`'s exporter.
 *
 * `@effect/opentelemetry` is an optional peer dependency: it is imported here only when the
 * option is given, so a server without it, or an app that never traces, never loads it.
 *
 * @since 0.2.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { version } from "../http/Api.js"

/**
 * `@effect/opentelemetry` is not installed beside effect-kv.
 *
 * @since 0.2.0
 * @category errors
 */
export class OtlpUnavailable extends Schema.TaggedError<OtlpUnavailable>()("OtlpUnavailable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `--otlp-url needs @effect/opentelemetry (${this.reason}); install it beside effect-kv: ` +
      `npm install @effect/opentelemetry@^0.64.1`
  }
}

/**
 * Installs a tracer that sends every span to `url`, an OTLP/HTTP traces endpoint such as
 * `http://127.0.0.1:4318/v1/traces`, in batches every second and when the layer is released.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (url: string): Layer.Layer<never, OtlpUnavailable> =>
  Layer.unwrapEffect(
    Effect.tryPromise({
      try: () => Promise.all([import("@effect/opentelemetry/OtlpTracer"), import("@effect/opentelemetry/OtlpSerialization")]),
      catch: (error) => new OtlpUnavailable({ reason: error instanceof Error ? error.message : String(error) })
    }).pipe(Effect.map(([OtlpTracer, OtlpSerialization]) =>
      OtlpTracer.layer({ url, resource: { serviceName: "effect-kv", serviceVersion: version }, exportInterval: "1 second" }).pipe(
        Layer.provide(OtlpSerialization.layerJson),
        Layer.provide(NodeHttpClient.layer)
      )
    ))
  )
