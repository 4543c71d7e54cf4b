/**
 * The spans of storage, made only when a tracer records them (see `otp/Tracing`).
 *
 * @internal
 */
import * as Tracing from "../../otp/Tracing.js"

/** The span of one store's append: its writer's batch and fsync for it are traced under it. */
export const appendSpan = (store: string, records: number) =>
  Tracing.withChildSpan("storage.append", { attributes: { "storage.store": store, "storage.records": records } })
