/**
 * The supervision tree: each child ends as it really can, and the restarts the tree's documentation
 * promises happen, the stores keeping their data, with nothing outside the failed subtree noticing.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Option } from "effect"
import { KV, type KVService } from "../../src/kv/KV.js"
import type * as Stores from "../../src/kv/Stores.js"
import * as Storage from "../../src/storage/Storage.js"
import { tempDir } from "../storage/fixtures/TempDir.js"
import { crashable, kvWith, makeControl } from "./crashable.js"

const ids = (children: ReadonlyArray<{ readonly id: string }>) => children.map((child) => child.id)

/** The running child `id` of the tree. */
const child = (kv: KVService, id: string) =>
  Effect.map(kv.supervisor.whichChildren, (children) => Option.getOrThrow(children.find((info) => info.id === id)!.child))

/**
 * Adds a child after the stores, as the HTTP server is added: it counts its starts, tells when it
 * has started again, and crashes when `crash` is called.
 */
const addLastChild = (kv: KVService) =>
  Effect.gen(function*() {
    const restarted = yield* Deferred.make<void>()
    let crash = yield* Deferred.make<void>()
    const last = { starts: 0, restarted, crash: Effect.suspend(() => Deferred.succeed(crash, undefined)) }
    yield* kv.supervisor.startChild({
      id: "http",
      start: Effect.gen(function*() {
        if (++last.starts === 2) yield* Deferred.succeed(restarted, undefined)
        crash = yield* Deferred.make<void>()
        return { await: Effect.zipRight(Deferred.await(crash), Effect.dieMessage("injected crash of the last child")) }
      })
    })
    return last
  })

const putAB = (kv: KVService) => Effect.all([kv.put("a", "k", "a"), kv.put("b", "k", "b")])
const getAB = (kv: KVService) => Effect.all([kv.get("a", "k"), kv.get("b", "k")])
const ab = [Option.some("a"), Option.some("b")]

describe("the supervision tree", () => {
  it.effect("is kv → storage, stores (rest_for_one); a child added later goes last", () =>
    Effect.gen(function*() {
      const kv = yield* KV
      expect(ids(yield* kv.supervisor.whichChildren)).toEqual(["storage", "stores"])
      yield* kv.supervisor.startChild({ id: "http", start: Effect.succeed({ await: Effect.never }) })
      expect(ids(yield* kv.supervisor.whichChildren)).toEqual(["storage", "stores", "http"])
    }).pipe(Effect.provide(kvWith(makeControl()))))

  it.scoped("storage: a writer that fails ends it; the file storage is built again, the stores reopen their logs, the last child restarts", () =>
    Effect.gen(function*() {
      const control = makeControl()
      const dataDir = yield* tempDir
      const file = Storage.layerFile({ dataDir }).pipe(Layer.provide(NodeFileSystem.layer))
      const kv = Context.get(yield* Layer.build(KV.layerFrom(crashable(control).pipe(Layer.provide(file)))), KV)
      yield* putAB(kv)
      const last = yield* addLastChild(kv)
      expect([control.storageBuilds, control.openNow, control.opened]).toEqual([1, 2, 2])

      yield* Deferred.succeed(control.killStorage!, undefined)
      yield* Deferred.await(last.restarted)

      // Built again, so its folder's lock was released and taken again; every store was closed.
      expect([control.storageBuilds, control.openNow, last.starts]).toEqual([2, 0, 2])
      expect(yield* getAB(kv)).toEqual(ab)
      expect(yield* kv.put("a", "k2", "after")).toBeGreaterThan(0)
      expect([control.openNow, control.opened]).toEqual([2, 4])
      expect(ids(yield* kv.supervisor.whichChildren)).toEqual(["storage", "stores", "http"])
    }))

  it.effect("stores: a supervisor that gives up ends it; the stores and the last child restart, storage does not notice", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* putAB(kv)
      const last = yield* addLastChild(kv)
      const stores = (yield* child(kv, "stores")) as Stores.Stores
      // A permanent child that crashes at once, past the supervisor's intensity.
      yield* stores.supervisor.startChild({ id: "crasher", start: Effect.succeed({ await: Effect.dieMessage("crash") }) })
      yield* Deferred.await(last.restarted)

      expect(yield* child(kv, "stores")).not.toBe(stores)
      expect([control.storageBuilds, control.openNow, last.starts]).toEqual([1, 0, 2])
      expect(yield* getAB(kv)).toEqual(ab)
      expect([control.openNow, control.opened]).toEqual([2, 4])
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.effect("the last child restarts alone: storage and the stores do not notice", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* putAB(kv)
      const last = yield* addLastChild(kv)
      const stores = yield* child(kv, "stores")
      yield* last.crash
      yield* Deferred.await(last.restarted)

      expect(yield* child(kv, "stores")).toBe(stores)
      expect([control.storageBuilds, control.openNow, control.opened]).toEqual([1, 2, 2])
      expect(yield* getAB(kv)).toEqual(ab)
    }).pipe(Effect.provide(kvWith(control)))
  })

  it.effect("while the tree restarts the stores, a call that needs them fails at once with ServerStopped", () => {
    const control = makeControl()
    return Effect.gen(function*() {
      const kv = yield* KV
      yield* putAB(kv)
      // A last child whose stopping waits: the restart holds there, after the stores have ended.
      const stopping = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* kv.supervisor.startChild({
        id: "http",
        start: Effect.as(
          Effect.addFinalizer(() => Effect.zipRight(Deferred.succeed(stopping, undefined), Deferred.await(release))),
          { await: Effect.never }
        )
      })
      const stores = (yield* child(kv, "stores")) as Stores.Stores
      yield* stores.supervisor.startChild({ id: "crasher", start: Effect.succeed({ await: Effect.dieMessage("crash") }) })
      yield* Effect.ensuring(
        Effect.gen(function*() {
          yield* Deferred.await(stopping)
          const error = yield* Effect.flip(kv.get("a", "k"))
          expect(error).toMatchObject({ _tag: "ServerStopped", server: "stores" })
          expect(error.message).toContain("retry")
        }),
        Deferred.succeed(release, undefined)
      )
      expect(yield* Effect.eventually(getAB(kv))).toEqual(ab)
    }).pipe(Effect.provide(kvWith(control)))
  })
})
