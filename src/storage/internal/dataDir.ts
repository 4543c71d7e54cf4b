/**
 * The data folder: where each file lives, how store names become file names, and the lock that
 * gives one process the folder.
 *
 * ```text
 * <dataDir>/
 *   LOCK                  the owner's pid; removed on a clean shutdown (on Linux the lock itself is
 *                         an abstract Unix socket named from the folder; LOCK is its record)
 *   stores/<encoded>/     one folder per store that was ever written
 *     snapshot            the state at the last compaction (absent before the first)
 *     snapshot.tmp        a compaction cut short; deleted when the store opens
 *     probe               a check that the disk takes writes again; deleted after it, or on open
 *     log                 the changes since the snapshot, one record each
 *   trash/                dropped stores, renamed here at once and deleted after
 * ```
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { DataDirLocked, type DiskFull, fromPlatformError, isNotFound, orStorageError, StorageError } from "./errors.js"

/** The paths of a data folder. */
export interface Layout {
  readonly root: string
  readonly stores: string
  readonly trash: string
  readonly lock: string
}

export const layout = (dataDir: string): Layout => {
  const root = Path.resolve(dataDir)
  return { root, stores: Path.join(root, "stores"), trash: Path.join(root, "trash"), lock: Path.join(root, "LOCK") }
}

/** The files of one store. */
export interface StoreFiles {
  readonly dir: string
  readonly log: string
  readonly snapshot: string
  readonly temp: string
  readonly probe: string
}

export const storeFiles = (paths: Layout, store: string): StoreFiles => {
  const dir = Path.join(paths.stores, encodeName(store))
  return {
    dir,
    log: Path.join(dir, "log"),
    snapshot: Path.join(dir, "snapshot"),
    temp: Path.join(dir, "snapshot.tmp"),
    probe: Path.join(dir, "probe")
  }
}

/**
 * A store name as a file name: `a-z`, `0-9` and `-` stay; an upper-case letter becomes `_` and
 * the letter (so names differing in case stay apart on case-insensitive disks); every other byte
 * of the UTF-8 becomes `~` and two hex digits. No encoded name contains `/`, `\` or a leading `.`.
 */
export const encodeName = (name: string): string => {
  let encoded = ""
  for (const byte of Buffer.from(name, "utf8")) {
    if ((byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2d) {
      encoded += String.fromCharCode(byte)
    } else if (byte >= 0x41 && byte <= 0x5a) {
      encoded += "_" + String.fromCharCode(byte + 0x20)
    } else {
      encoded += "~" + byte.toString(16).padStart(2, "0")
    }
  }
  return encoded
}

/** The store name of a file name from {@link encodeName}; `undefined` for a name it never makes. */
export const decodeName = (encoded: string): string | undefined => {
  const bytes: Array<number> = []
  for (let i = 0; i < encoded.length; i++) {
    const char = encoded[i]!
    if (/[a-z0-9-]/.test(char)) bytes.push(char.charCodeAt(0))
    else if (char === "_" && /[a-z]/.test(encoded[i + 1] ?? "")) bytes.push(encoded.charCodeAt(++i) - 0x20)
    else if (char === "~" && /^[0-9a-f]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16))
      i += 2
    } else return undefined
  }
  const name = Buffer.from(bytes).toString("utf8")
  return bytes.length > 0 && encodeName(name) === encoded ? name : undefined
}

/** Longest file name most file systems take. */
const maxFileName = 255

/** Fails when a store name encodes to a file name too long for the disk. */
export const checkEncodedLength = (paths: Layout, store: string): Effect.Effect<void, StorageError> => {
  const encoded = encodeName(store)
  return encoded.length <= maxFileName ? Effect.void : Effect.fail(
    new StorageError({
      operation: "name",
      path: Path.join(paths.stores, encoded.slice(0, 32) + "…"),
      reason: `store name "${store}" encodes to ${encoded.length} bytes, over the ${maxFileName} a file name may have; use a shorter name`
    })
  )
}

const isAlreadyExists = (error: PlatformError) => error._tag === "SystemError" && error.reason === "AlreadyExists"

/** fsyncs a folder, so that the names created or renamed in it survive a power cut. */
export const syncDirectory = (fs: FileSystem.FileSystem, dir: string): Effect.Effect<void, StorageError | DiskFull> =>
  Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (handle) => handle.sync)).pipe(
    orStorageError("fsync folder", dir)
  )

/** Whether a process with that pid runs (a pid we may not signal still runs). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Abstract Unix sockets (a name with no file, which the kernel frees when its process dies) are Linux's alone. */
const abstractSockets = process.platform === "linux"

/**
 * The name of the folder's lock socket, from the folder's device and inode rather than its path:
 * the one folder reached by a symlink or a bind mount (a container's volume) gets one name, where
 * the realpaths of two bind mounts differ. Inodes as bigints: overlayfs's pass 2^53.
 */
const socketName = (root: string): Effect.Effect<string, StorageError> =>
  Effect.async((resume) => {
    NodeFs.stat(root, { bigint: true }, (error, stats) => {
      if (error !== null) {
        resume(Effect.fail(new StorageError({ operation: "stat", path: root, reason: error.message })))
        return
      }
      const identity = Crypto.createHash("sha256").update(`${stats.dev}:${stats.ino}`).digest("hex")
      resume(Effect.succeed(`\0effect-kv-lock-${identity}`))
    })
  })

/** Listens on an abstract socket, unref'd so that it does not keep the process alive. */
const listen = (name: string): Effect.Effect<Net.Server, NodeJS.ErrnoException> =>
  Effect.async((resume) => {
    // Nothing is served: a connection is dropped at once, or it would hold up the close.
    const server = Net.createServer((socket) => socket.destroy())
    const failed = (error: NodeJS.ErrnoException) => resume(Effect.fail(error))
    server.once("error", failed)
    server.listen({ path: name }, () => {
      server.off("error", failed)
      // An accept that fails (EMFILE) is emitted as an error, which would crash a server without a listener.
      server.on("error", () => {})
      server.unref()
      resume(Effect.succeed(server))
    })
    // Interrupted while binding: the name must not stay taken by a socket nobody holds.
    return Effect.sync(() => void server.close())
  })

const close = (server: Net.Server): Effect.Effect<void> =>
  Effect.async((resume) => void server.close(() => resume(Effect.void)))

/**
 * Takes the data folder for this process until the scope closes, or fails with `DataDirLocked`
 * naming the live holder (pid 0 when `LOCK` does not name it yet).
 *
 * On Linux the lock is an abstract Unix socket named from the folder: binding it is atomic and the
 * kernel frees it when its process dies, however it dies, so of processes sharing a network
 * namespace exactly one holds the folder, and a crash leaves nothing to take over. `LOCK` then only
 * records our pid for the holders the socket cannot see (another container sharing the volume): we
 * rewrite it when its pid is dead or our own (a restarted container is pid 1 again), and fail when
 * it names another live process.
 *
 * Elsewhere `LOCK` is the lock: created holding our pid, taken over when its process is dead. Two
 * processes taking over one stale lock in the same instant can both win there, a narrow race that
 * needs a crash first; and a dead holder's pid reused by a live process keeps the folder locked
 * until `LOCK` is deleted by hand.
 */
export const lock = (
  fs: FileSystem.FileSystem,
  paths: Layout
): Effect.Effect<void, DataDirLocked | StorageError | DiskFull, Scope.Scope> =>
  lockOn(fs, paths, abstractSockets ? socketName(paths.root) : undefined)

/**
 * {@link lock} on the socket `name` gives, or on `LOCK` alone without one. Where the system
 * refuses the socket for any reason but its being taken (a sandbox that forbids Unix sockets),
 * the folder is still locked, by `LOCK` alone, with a warning: a server that cannot start is worse
 * than the file lock's narrow race.
 */
export const lockOn = (
  fs: FileSystem.FileSystem,
  paths: Layout,
  name: Effect.Effect<string, StorageError> | undefined
): Effect.Effect<void, DataDirLocked | StorageError | DiskFull, Scope.Scope> => {
  const create = fs.writeFileString(paths.lock, `${process.pid}\n`, { flag: "wx" })
  const holder = fs.readFileString(paths.lock).pipe(
    Effect.map((text) => Number.parseInt(text.trim(), 10)),
    Effect.catchIf(isNotFound, () => Effect.succeed(Number.NaN)),
    orStorageError("read lock", paths.lock)
  )
  const isHeld = (pid: number) => Number.isInteger(pid) && pid > 0 && isAlive(pid)
  const locked = (pid: number) => new DataDirLocked({ dataDir: paths.root, pid: isHeld(pid) ? pid : 0 })
  const takeOver = (
    isStale: (pid: number) => boolean,
    attemptsLeft: number
  ): Effect.Effect<void, DataDirLocked | StorageError | DiskFull> =>
    create.pipe(
      Effect.catchIf(isAlreadyExists, () =>
        Effect.flatMap(holder, (pid) => {
          if (!isStale(pid) || attemptsLeft === 0) return Effect.fail(locked(pid))
          return fs.remove(paths.lock, { force: true }).pipe(
            orStorageError("remove stale lock", paths.lock),
            Effect.zipRight(Effect.logWarning(pid === process.pid
              ? `took over the lock of ${paths.root} left by an earlier process with our pid ${pid}`
              : `took over the lock of ${paths.root} left by dead process ${pid}`)),
            Effect.zipRight(takeOver(isStale, attemptsLeft - 1))
          )
        })),
      Effect.mapError((error) => error._tag === "SystemError" || error._tag === "BadArgument"
        ? fromPlatformError("create lock", paths.lock, error)
        : error)
    )
  const removeRecord = Effect.ignore(fs.remove(paths.lock, { force: true }))
  const fileLock = takeOver((pid) => !isHeld(pid), 1)
  if (name === undefined) return Effect.acquireRelease(fileLock, () => removeRecord)
  const bind = Effect.flatMap(name, (name) =>
    Effect.catchAll(listen(name), (error) =>
      error.code === "EADDRINUSE"
        ? Effect.flatMap(holder, (pid) => Effect.fail(locked(pid)))
        : Effect.as(
          Effect.logWarning(
            `the lock socket of ${paths.root} was refused (${error.message}); locking it by its LOCK file alone`
          ),
          undefined
        )))
  // Our pid in LOCK was written by an earlier process that had it (a container's pid 1): had this
  // process written it, it would still hold the socket and the bind would have failed.
  const takeRecord = takeOver((pid) => pid === process.pid || !isHeld(pid), 1)
  // The socket closes before LOCK goes: a process in another network namespace, which sees LOCK
  // alone, never finds the folder free while we still hold it.
  return Effect.acquireRelease(
    Effect.flatMap(bind, (server) =>
      server === undefined
        ? Effect.as(fileLock, server)
        : takeRecord.pipe(Effect.onError(() => close(server)), Effect.as(server))),
    (server) => server === undefined ? removeRecord : Effect.zipRight(close(server), removeRecord)
  )
}
