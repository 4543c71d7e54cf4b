/**
 * The data folder: where each file lives, how store names become file names, and the lock that
 * gives one process the folder.
 *
 * ```text
 * <dataDir>/
 *   LOCK                  the owner's pid; removed on a clean shutdown
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

/**
 * Takes the data folder for this process until the scope closes: creates `LOCK` holding our pid,
 * or fails with `DataDirLocked` naming the live holder. A lock left by a dead process is taken
 * over. (Two processes taking over one stale lock in the same instant can both win: a narrow race
 * that needs a crash first, accepted for a lock that needs no native code.)
 */
export const lock = (
  fs: FileSystem.FileSystem,
  paths: Layout
): Effect.Effect<void, DataDirLocked | StorageError | DiskFull, Scope.Scope> => {
  const create = fs.writeFileString(paths.lock, `${process.pid}\n`, { flag: "wx" })
  const holder = fs.readFileString(paths.lock).pipe(
    Effect.map((text) => Number.parseInt(text.trim(), 10)),
    Effect.catchIf(isNotFound, () => Effect.succeed(Number.NaN)),
    orStorageError("read lock", paths.lock)
  )
  const takeOver = (attemptsLeft: number): Effect.Effect<void, DataDirLocked | StorageError | DiskFull> =>
    create.pipe(
      Effect.catchIf(isAlreadyExists, () =>
        Effect.flatMap(holder, (pid) => {
          if (Number.isInteger(pid) && pid > 0 && isAlive(pid) || attemptsLeft === 0) {
            return Effect.fail(new DataDirLocked({ dataDir: paths.root, pid }))
          }
          return fs.remove(paths.lock, { force: true }).pipe(
            orStorageError("remove stale lock", paths.lock),
            Effect.zipRight(Effect.logWarning(`took over the lock of ${paths.root} left by dead process ${pid}`)),
            Effect.zipRight(takeOver(attemptsLeft - 1))
          )
        })),
      Effect.mapError((error) => error._tag === "SystemError" || error._tag === "BadArgument"
        ? fromPlatformError("create lock", paths.lock, error)
        : error)
    )
  return Effect.acquireRelease(
    takeOver(1),
    () => Effect.ignore(fs.remove(paths.lock, { force: true }))
  )
}
