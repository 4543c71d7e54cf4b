/**
 * How `KV` is observed: each operation counted by store, kind and outcome, the latency of each
 * write's call, and a span per operation when a tracer records them (see `otp/Tracing`).
 *
 * Reads are the hot path (a read costs about 1.5 µs), so they are observed inside the step a read
 * takes anyway: the step that checks its name and key also looks at the tracer, counts a bad one,
 * and counts the read of a running store, which cannot fail; only a store that is not running
 * (waited for, or started) is watched for a failure. Every observed operation is made once
 * per kind, when `KV` is built, and keeps a record per store with the metric hooks of its series
 * and its failure handler: counting is then a `Map` lookup and a plain call.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import { nativeTracer } from "../../otp/internal/tracing.js"
import type { KVService } from "../KV.js"
import { callDurationHook, operationsHook } from "./metrics.js"

/** What is observed. */
export interface Options {
  /** Count operations and time calls. */
  readonly metrics: boolean
  /** Make spans when a tracer records them. */
  readonly tracing: boolean
}

/** The failure's tag, or what ended the operation if it did not fail. */
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

/** One store's series of one kind of operation. */
interface Series {
  readonly ok: MetricHook.MetricHook.Counter<number>
  readonly duration: MetricHook.MetricHook.Histogram
  /** Counts the failure under its outcome and fails with it again. */
  readonly failed: <E>(cause: Cause.Cause<E>) => Effect.Effect<never, E>
  /** Counts a success and passes the value on. */
  readonly succeeded: <A>(value: A) => Effect.Effect<A>
}

/** The series of one kind of operation, by store, made on a store's first operation of that kind. */
const seriesOf = (kind: string) => {
  const byStore = new Map<string, Series>()
  // The last store's series, found again without a lookup: operations come in runs on a store.
  let lastStore: string | undefined
  let last: Series | undefined
  return (store: string): Series => {
    if (store === lastStore) return last!
    let series = byStore.get(store)
    if (series !== undefined) {
      lastStore = store
      last = series
      return series
    }
    const storeLabel = MetricLabel.make("store", store)
    const kindLabel = MetricLabel.make("kind", kind)
    const outcomes = new Map<string, MetricHook.MetricHook.Counter<number>>()
    const counterOf = (outcome: string) => {
      let hook = outcomes.get(outcome)
      if (hook === undefined) outcomes.set(outcome, hook = operationsHook([storeLabel, kindLabel, MetricLabel.make("outcome", outcome)]))
      return hook
    }
    const ok = counterOf("ok")
    byStore.set(store, series = {
      ok,
      duration: callDurationHook([storeLabel, kindLabel]),
      failed: (cause) => {
        counterOf(outcomeOf(cause)).update(1)
        return Effect.failCause(cause)
      },
      succeeded: (value) => {
        ok.update(1)
        return Effect.succeed(value)
      }
    })
    lastStore = store
    last = series
    return series
  }
}

const spanOptions = (store: string, key: string | undefined) => ({
  attributes: key === undefined ? { "kv.store": store } : { "kv.store": store, "kv.key": key },
  captureStackTrace: false
})

/** Observes the operations of `KV`, as `options` says. */
export interface Observer {
  /**
   * The reads of one kind: `find` is the store when it runs, whose name was checked when it
   * started, so only `checkKey` says what is wrong with the key; `check` says what is wrong with a
   * name or key otherwise, `onStore` finds the store (waiting for it, or starting it) and uses it,
   * and `read` reads the key in it, at once.
   */
  readonly reader: <S, A, E>(
    kind: string,
    check: (store: string, key: string) => E | undefined,
    checkKey: (key: string) => E | undefined,
    find: (store: string) => S | undefined,
    onStore: (store: string, use: (running: S) => Effect.Effect<A>) => Effect.Effect<A, E>,
    read: (running: S, key: string) => A
  ) => (store: string, key: string) => Effect.Effect<A, E>
  /** Any other kind of operation, observed whole; `timed` for writes, whose latency is measured. */
  readonly operator: (kind: string, timed: boolean) => <A, E>(
    store: string,
    effect: Effect.Effect<A, E>,
    key?: string
  ) => Effect.Effect<A, E>
  readonly observes: boolean
}

export const make = (options: Options): Observer => {
  const { metrics, tracing } = options
  const spanNameOf = (kind: string) => `kv.${kind}`

  const reader: Observer["reader"] = <S, A, E>(
    kind: string,
    check: (store: string, key: string) => E | undefined,
    checkKey: (key: string) => E | undefined,
    find: (store: string) => S | undefined,
    onStore: (store: string, use: (running: S) => Effect.Effect<A>) => Effect.Effect<A, E>,
    read: (running: S, key: string) => A
  ) => {
    // A running store is read in this one step, and a read of it cannot fail but by its key.
    const slow = (store: string, key: string, onRead: () => void): Effect.Effect<A, E> => {
      const error = check(store, key)
      return error === undefined
        ? onStore(store, (running) =>
          Effect.sync(() => {
            onRead()
            return read(running, key)
          }))
        : Exit.fail(error)
    }
    // A running store, unobserved: its key checked, then read.
    const direct = (running: S, key: string): Effect.Effect<A, E> => {
      const error = checkKey(key)
      return error === undefined ? Exit.succeed(read(running, key)) : Exit.fail(error)
    }
    const unobserved = () => {}
    if (!metrics && !tracing) {
      return (store: string, key: string) =>
        Effect.suspend(() => {
          const running = find(store)
          return running === undefined ? slow(store, key, unobserved) : direct(running, key)
        })
    }
    const series = seriesOf(kind)
    const spanName = spanNameOf(kind)
    return (store: string, key: string) =>
      Effect.withFiberRuntime<A, E>((fiber) => {
        let body: Effect.Effect<A, E>
        const running = find(store)
        if (!metrics) {
          body = running === undefined ? slow(store, key, unobserved) : direct(running, key)
        } else {
          // Only a bad name or key, or a store that must be waited for or started, ends otherwise.
          const { failed, ok } = series(store)
          const error = running === undefined ? undefined : checkKey(key)
          if (error !== undefined) {
            body = failed(Cause.fail(error))
          } else if (running !== undefined) {
            ok.update(1)
            body = Exit.succeed(read(running, key))
          } else {
            body = Effect.catchAllCause(slow(store, key, () => ok.update(1)), failed)
          }
        }
        return tracing && fiber.currentTracer !== nativeTracer ? Effect.withSpan(body, spanName, spanOptions(store, key)) : body
      })
  }

  const operator: Observer["operator"] = (kind, timed) => {
    const series = seriesOf(kind)
    const spanName = spanNameOf(kind)
    return <A, E>(store: string, effect: Effect.Effect<A, E>, key?: string) =>
      Effect.withFiberRuntime<A, E>((fiber) => {
        let body = effect
        if (metrics) {
          const { duration, failed, succeeded } = series(store)
          if (timed) {
            const start = performance.now()
            body = Effect.matchCauseEffect(effect, {
              onFailure: (cause) => {
                duration.update((performance.now() - start) / 1000)
                return failed(cause)
              },
              onSuccess: (value) => {
                duration.update((performance.now() - start) / 1000)
                return succeeded(value)
              }
            })
          } else {
            body = Effect.matchCauseEffect(effect, { onFailure: failed, onSuccess: succeeded })
          }
        }
        return tracing && fiber.currentTracer !== nativeTracer ? Effect.withSpan(body, spanName, spanOptions(store, key)) : body
      })
  }

  return { reader, operator, observes: metrics || tracing }
}

/**
 * `service` with every operation but the reads observed whole (reads observe themselves, through
 * {@link Observer.reader}); `service` itself when nothing is observed.
 */
export const instrument = (service: KVService, observer: Observer): KVService => {
  if (!observer.observes) return service
  const put = observer.operator("put", true)
  const del = observer.operator("delete", true)
  const clear = observer.operator("clear", true)
  const expire = observer.operator("expire", true)
  const persist = observer.operator("persist", true)
  const atomic = observer.operator("atomic", true)
  const keys = observer.operator("keys", false)
  const size = observer.operator("size", false)
  const storeInfo = observer.operator("storeInfo", false)
  const dropStore = observer.operator("dropStore", false)
  const restartStore = observer.operator("restartStore", false)
  const compact = observer.operator("compact", false)
  const entries = observer.operator("entries", false)
  const exportStore = observer.operator("exportStore", false)
  return {
    ...service,
    put: (store, key, value, options) => put(store, service.put(store, key, value, options), key),
    delete: (store, key, options) => del(store, service.delete(store, key, options), key),
    clear: (store) => clear(store, service.clear(store)),
    expire: (store, key, ttl, options) => expire(store, service.expire(store, key, ttl, options), key),
    persist: (store, key, options) => persist(store, service.persist(store, key, options), key),
    atomic: (store, write) => atomic(store, service.atomic(store, write)),
    keys: (store, options) => keys(store, service.keys(store, options)),
    size: (store) => size(store, service.size(store)),
    storeInfo: (store) => storeInfo(store, service.storeInfo(store)),
    dropStore: (store) => dropStore(store, service.dropStore(store)),
    restartStore: (store) => restartStore(store, service.restartStore(store)),
    compact: (store) => compact(store, service.compact(store)),
    entries: (store, options) => entries(store, service.entries(store, options)),
    exportStore: (store) => exportStore(store, service.exportStore(store))
  }
}
