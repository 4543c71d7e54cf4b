/**
 * The writer pool (the tutorial's part 4): N writer fibers, and a store's name hashed to pick its
 * writer, so one file has one writer and different stores write in parallel.
 *
 * A writer takes every job waiting for it at once. It writes every append of the batch, then, with
 * `sync: "always"`, fsyncs each file it wrote once (group commit) and only then acknowledges
 * them; a write or fsync that fails fails the appends it would have covered, and its log takes
 * nothing more until the store reopens it. With `"interval"` a timer asks every writer to fsync
 * its written files; with `"none"` files are fsynced only at compaction and close.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { Snapshot } from "../Change.js"
import { StorageError, type StorageFailure } from "./errors.js"
import * as LogFile from "./logFile.js"

/** When an acknowledged write is on disk. */
export type SyncPolicy = "always" | "interval" | "none"

/** Options of {@link make}. */
export interface PoolOptions {
  readonly writers: number
  readonly sync: SyncPolicy
  readonly syncInterval: Duration.DurationInput
  /** Compact a log when dead records exceed live ones times this... */
  readonly deadRatio: number
  /** ...and number at least this many. */
  readonly minDeadRecords: number
}

/** The pool: every operation on a log goes through the log's writer. */
export interface WriterPool {
  /** Writes encoded records; succeeds once they are as durable as the policy promises. */
  readonly append: (
    log: LogFile.LogFile,
    bytes: Uint8Array,
    records: number,
    after: Snapshot
  ) => Effect.Effect<void, StorageFailure>
  /** Compacts the log after whatever was queued before. */
  readonly compact: (log: LogFile.LogFile) => Effect.Effect<void, StorageFailure>
  /** Syncs what was written and closes the log, after whatever was queued before. */
  readonly close: (log: LogFile.LogFile) => Effect.Effect<void>
}

type Job =
  | {
    readonly _tag: "Append"
    readonly log: LogFile.LogFile
    readonly bytes: Uint8Array
    readonly records: number
    readonly after: Snapshot
    readonly done: Deferred.Deferred<void, StorageFailure>
  }
  | { readonly _tag: "Compact"; readonly log: LogFile.LogFile; readonly done: Deferred.Deferred<void, StorageFailure> }
  | { readonly _tag: "Close"; readonly log: LogFile.LogFile; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "Flush" }

type AppendJob = Extract<Job, { _tag: "Append" }>

/** FNV-1a: a stable, well-spread hash of a store's name. */
const hash = (name: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Starts the writers in the current scope. */
export const make = (fs: FileSystem.FileSystem, options: PoolOptions): Effect.Effect<WriterPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queues = yield* Effect.forEach(Array.from({ length: options.writers }), () => Queue.unbounded<Job>())
    for (const queue of queues) yield* Effect.forkScoped(runWriter(fs, queue, options))
    if (options.sync === "interval") {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
        Effect.sleep(options.syncInterval),
        Effect.forEach(queues, (queue) => Queue.offer(queue, { _tag: "Flush" }), { discard: true })
      )))
    }
    const queueOf = (log: LogFile.LogFile) => queues[hash(log.store) % queues.length]!
    const request = <E>(log: LogFile.LogFile, job: (done: Deferred.Deferred<void, E>) => Job) =>
      Effect.suspend(() => {
        const done = Deferred.unsafeMake<void, E>(FiberId.none)
        return Effect.zipRight(Queue.offer(queueOf(log), job(done)), Deferred.await(done))
      })
    return {
      append: (log, bytes, records, after) =>
        log.failure !== undefined
          ? Effect.fail(log.failure)
          : request<StorageFailure>(log, (done) => ({ _tag: "Append", log, bytes, records, after, done })),
      compact: (log) => request<StorageFailure>(log, (done) => ({ _tag: "Compact", log, done })),
      close: (log) => request<never>(log, (done) => ({ _tag: "Close", log, done }))
    }
  })

const runWriter = (fs: FileSystem.FileSystem, queue: Queue.Queue<Job>, options: PoolOptions) => {
  const written = new Set<LogFile.LogFile>()
  const warn = (error: StorageFailure) => Effect.logWarning(error.message)

  // Acknowledges the appends written since the last commit: after one fsync per file if "always".
  // Compactions come after every acknowledgement, so that one store's does not delay another's.
  const commit = (pending: Map<LogFile.LogFile, Array<AppendJob>>) =>
    Effect.gen(function*() {
      const compactable: Array<LogFile.LogFile> = []
      for (const [log, jobs] of pending) {
        const synced = options.sync === "always" ? yield* Effect.exit(LogFile.sync(log)) : Exit.void
        for (const job of jobs) Deferred.unsafeDone(job.done, synced)
        if (Exit.isSuccess(synced) && LogFile.needsCompaction(log, options.deadRatio, options.minDeadRecords)) {
          compactable.push(log)
        }
      }
      pending.clear()
      for (const log of compactable) yield* LogFile.compact(fs, log).pipe(Effect.catchAll(warn))
    })

  const handle = (jobs: Iterable<Job>) =>
    Effect.gen(function*() {
      const pending = new Map<LogFile.LogFile, Array<AppendJob>>()
      for (const job of jobs) {
        if (job._tag === "Append") {
          const exit = yield* Effect.exit(LogFile.write(fs, job.log, job.bytes, job.records, job.after))
          if (Exit.isFailure(exit)) {
            Deferred.unsafeDone(job.done, exit)
            continue
          }
          written.add(job.log)
          const forLog = pending.get(job.log)
          if (forLog === undefined) pending.set(job.log, [job])
          else forLog.push(job)
          continue
        }
        // Anything else comes after the appends queued before it.
        yield* commit(pending)
        switch (job._tag) {
          case "Compact":
            Deferred.unsafeDone(job.done, yield* Effect.exit(LogFile.compact(fs, job.log)))
            break
          case "Close":
            yield* LogFile.close(job.log)
            written.delete(job.log)
            Deferred.unsafeDone(job.done, Exit.void)
            break
          case "Flush":
            for (const log of written) yield* LogFile.sync(log).pipe(Effect.catchAll(warn))
            written.clear()
            break
        }
      }
      yield* commit(pending)
    })

  // A defect must not leave a caller waiting: it fails every job of the batch still unanswered.
  const handleSafely = (jobs: ReadonlyArray<Job>) =>
    Effect.catchAllCause(handle(jobs), (cause) =>
      Effect.gen(function*() {
        yield* Effect.logError("storage writer failed", cause)
        for (const job of jobs) {
          if (job._tag === "Flush") continue
          job.log.failure ??= new StorageError({ operation: "write", path: job.log.files.log, reason: Cause.pretty(cause) })
          if (job._tag === "Close") Deferred.unsafeDone(job.done, Exit.void)
          else Deferred.unsafeDone(job.done, Exit.fail(job.log.failure))
        }
      }))

  return Effect.forever(
    Effect.flatMap(
      Queue.takeBetween(queue, 1, Number.MAX_SAFE_INTEGER),
      (jobs) => Effect.uninterruptible(handleSafely(Array.from(jobs)))
    )
  )
}
