/**
 * How `KV` is observed: each operation counted by store, kind and outcome, the latency of each
 * write's call, and a span per operation when a tracer records them (see `otp/Tracing`).
 *
 * Reads are the hot path (a read costs about 1.6 µs), so they are observed inside the steps a
 * read takes anyway: the step that checks its name and key also looks at the tracer, the step
 * that finds its store also sees a failure, and the step that reads the map counts the success.
 * A per-store record holds the labels and counting functions made once, so a count is a `Map`
 * lookup and a counter's update. Everything else is wrapped whole.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as MetricLabel from "effect/MetricLabel"
import { nativeTracer } from "../../otp/internal/tracing.js"
import type { KVService } from "../KV.js"
import { callDuration, operations } from "./metrics.js"

/** What the observer needs to know of an operation. */
export interface Options {
  /** Count operations and time calls (default true). */
  readonly metrics: boolean
  /** Make spans when a tracer records them (default true). */
  readonly tracing: boolean
}

/** The labels and counting functions of one store, made on its first operation. */
interface StoreInstruments {
  readonly store: string
  /** Counts a success of `kind` and passes the value on. */
  readonly succeeded: Map<string, <A>(value: A) => A>
  /** Labels of each kind and outcome, made once (a metric hook is found by its labels' identity). */
  readonly labels: Map<string, ReadonlyArray<MetricLabel.MetricLabel>>
}

const outcomeOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const error = failure.value
    return typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : "error"
  }
  return Cause.isInterruptedOnly(cause) ? "interrupted" : "defect"
}

/** Spans names: the `KV` method, as `kv.put`. */
const spanNames = new Map<string, string>()
const spanName = (kind: string) => {
  let name = spanNames.get(kind)
  if (name === undefined) spanNames.set(kind, name = `kv.${kind}`)
  return name
}

export interface Observer {
  /**
   * A read of `key`: `check` says what is wrong with the name or key, `lookup` finds the store,
   * and `use` reads it, passing its result through `done`.
   */
  readonly read: <S, A, E>(
    store: string,
    key: string,
    kind: string,
    check: () => E | undefined,
    lookup: () => Effect.Effect<S, E>,
    use: (running: S, done: (value: A) => A) => Effect.Effect<A>
  ) => Effect.Effect<A, E>
  /** Any other operation, observed whole; `timed` for a write's call to its store. */
  readonly operation: <A, E>(
    store: string,
    kind: string,
    effect: Effect.Effect<A, E>,
    options?: { readonly key?: string | undefined; readonly timed?: boolean }
  ) => Effect.Effect<A, E>
}

/** Observes nothing: what `KV` runs with metrics and tracing both off. */
const unobserved: Observer = {
  read: (_store, _key, _kind, check, lookup, use) =>
    Effect.flatMap(
      Effect.suspend(() => {
        const error = check()
        return error === undefined ? lookup() : Effect.fail(error)
      }),
      (running) => use(running, identity)
    ),
  operation: (_store, _kind, effect) => effect
}

export const make = (options: Options): Observer => {
  if (!options.metrics && !options.tracing) return unobserved
  const stores = new Map<string, StoreInstruments>()

  const instrumentsOf = (store: string): StoreInstruments => {
    let instruments = stores.get(store)
    if (instruments === undefined) stores.set(store, instruments = { store, succeeded: new Map(), labels: new Map() })
    return instruments
  }
  const labelsOf = (instruments: StoreInstruments, kind: string, outcome: string) => {
    const id = `${kind}\u0000${outcome}`
    let labels = instruments.labels.get(id)
    if (labels === undefined) {
      instruments.labels.set(
        id,
        labels = [
          MetricLabel.make("store", instruments.store),
          MetricLabel.make("kind", kind),
          MetricLabel.make("outcome", outcome)
        ]
      )
    }
    return labels
  }
  const succeededOf = (instruments: StoreInstruments, kind: string) => {
    let succeeded = instruments.succeeded.get(kind)
    if (succeeded === undefined) {
      const labels = labelsOf(instruments, kind, "ok")
      instruments.succeeded.set(kind, succeeded = <A>(value: A) => {
        operations.unsafeUpdate(1, labels)
        return value
      })
    }
    return succeeded
  }
  const durationLabels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  const timed = (store: string, kind: string, start: number) => {
    const id = `${store}\u0000${kind}`
    let labels = durationLabels.get(id)
    if (labels === undefined) {
      durationLabels.set(id, labels = [MetricLabel.make("store", store), MetricLabel.make("kind", kind)])
    }
    callDuration.unsafeUpdate((performance.now() - start) / 1000, labels)
  }
  const failed = <E>(instruments: StoreInstruments, kind: string, cause: Cause.Cause<E>) => {
    operations.unsafeUpdate(1, labelsOf(instruments, kind, outcomeOf(cause)))
    return Effect.failCause(cause)
  }

  const traced = <A, E>(store: string, kind: string, key: string | undefined, effect: Effect.Effect<A, E>) =>
    Effect.withSpan(effect, spanName(kind), {
      attributes: key === undefined ? { "kv.store": store } : { "kv.store": store, "kv.key": key },
      captureStackTrace: false
    })

  const read: Observer["read"] = (store, key, kind, check, lookup, use) =>
    Effect.withFiberRuntime((fiber) => {
      const instruments = options.metrics ? instrumentsOf(store) : undefined
      const error = check()
      const found = error === undefined ? lookup() : Effect.fail(error)
      const body = instruments === undefined
        ? Effect.flatMap(found, (running) => use(running, identity))
        : Effect.matchCauseEffect(found, {
          onFailure: (cause) => failed(instruments, kind, cause),
          onSuccess: (running) => use(running, succeededOf(instruments, kind))
        })
      return options.tracing && fiber.currentTracer !== nativeTracer ? traced(store, kind, key, body) : body
    })

  const operation: Observer["operation"] = (store, kind, effect, operationOptions) =>
    Effect.withFiberRuntime((fiber) => {
      let body = effect
      if (options.metrics) {
        const instruments = instrumentsOf(store)
        const start = operationOptions?.timed ? performance.now() : -1
        body = Effect.matchCauseEffect(effect, {
          onFailure: (cause) => {
            if (start >= 0) timed(store, kind, start)
            return failed(instruments, kind, cause)
          },
          onSuccess: (value) => {
            if (start >= 0) timed(store, kind, start)
            return Effect.succeed(succeededOf(instruments, kind)(value))
          }
        })
      }
      return options.tracing && fiber.currentTracer !== nativeTracer ? traced(store, kind, operationOptions?.key, body) : body
    })

  return { read, operation }
}

/**
 * `service` with every operation but the reads observed whole (reads observe themselves, through
 * {@link Observer.read}); `service` itself when nothing is observed.
 */
export const instrument = (service: KVService, observer: Observer): KVService => {
  if (observer === unobserved) return service
  const { operation } = observer
  return {
    ...service,
    put: (store, key, value, options) => operation(store, "put", service.put(store, key, value, options), { key, timed: true }),
    delete: (store, key, options) => operation(store, "delete", service.delete(store, key, options), { key, timed: true }),
    clear: (store) => operation(store, "clear", service.clear(store), { timed: true }),
    keys: (store, options) => operation(store, "keys", service.keys(store, options)),
    size: (store) => operation(store, "size", service.size(store)),
    dropStore: (store) => operation(store, "dropStore", service.dropStore(store)),
    restartStore: (store) => operation(store, "restartStore", service.restartStore(store)),
    compact: (store) => operation(store, "compact", service.compact(store))
  }
}
