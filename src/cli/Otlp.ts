/**
 * `serve --otlp-url`: the server's spans sent to an OpenTelemetry collector over OTLP/HTTP (JSON),
 * through `@effect/opentelemetry`'s exporter.
 *
 * `@effect/opentelemetry` is an optional peer of the library, but the `effect-kv` binary carries
 * its exporter: the build bundles it with the same `effect` as the rest of the binary, where one
 * installed beside it would run on another copy. It is imported only when the option is given, so
 * a server that does not trace never loads it.
 *
 * @since 0.2.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { version } from "../http/Api.js"

/**
 * Installs a tracer that sends every span to `url`, an OTLP/HTTP traces endpoint such as
 * `http://127.0.0.1:4318/v1/traces`, in batches every second and when the layer is released.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (url: string): Layer.Layer<never> =>
  Layer.unwrapEffect(
    Effect.promise(() => Promise.all([import("@effect/opentelemetry/OtlpTracer"), import("@effect/opentelemetry/OtlpSerialization")]))
      .pipe(Effect.map(([OtlpTracer, OtlpSerialization]) =>
        OtlpTracer.layer({ url, resource: { serviceName: "effect-kv", serviceVersion: version }, exportInterval: "1 second" }).pipe(
          Layer.provide(OtlpSerialization.layerJson),
          Layer.provide(NodeHttpClient.layer)
        )
      ))
  )
