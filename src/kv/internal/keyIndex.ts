/**
 * A store's keys in order: a persistent B+ tree of strings (UTF-16 code unit order), so that a page
 * of keys costs O(log n + page) instead of a scan of every key. Persistent because a reader may
 * page or export from the state it read while the store goes on writing; a batch of writes edits
 * it through one `Editor`, which copies each node it touches once per batch and then changes its
 * copy in place (Clojure's transients), so a batch of 1,000 new keys copies a node at most once.
 *
 * @internal
 */
import * as HashMap from "effect/HashMap"
import type { Change } from "../../storage/Change.js"

/** Keys a node holds at most (a leaf's keys, a branch's children). */
const maxWidth = 64
/** A leaf this small after a removal is merged into its neighbour when both fit in one. */
const minLeaf = maxWidth / 4

/** Which batch may change a node in place: a fresh object per batch, never reused. */
type Edit = object

class Leaf {
  constructor(public keys: Array<string>, public edit: Edit | undefined) {}
}

/** `separators[i]` is the first key of `children[i + 1]` when it was made; a key equal to it goes right. */
class Branch {
  constructor(public separators: Array<string>, public children: Array<Node>, public edit: Edit | undefined) {}
}

type Node = Leaf | Branch

/**
 * A persistent sorted set of keys.
 */
export interface KeyIndex {
  readonly root: Node
}

export const empty: KeyIndex = { root: new Leaf([], undefined) }

/** The first index whose key is above `key` (after every key equal to it). */
const upperBound = (keys: ReadonlyArray<string>, key: string): number => {
  let low = 0
  let high = keys.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (keys[middle]! <= key) low = middle + 1
    else high = middle
  }
  return low
}

/** The first index whose key is at or above `key`. */
const lowerBound = (keys: ReadonlyArray<string>, key: string): number => {
  let low = 0
  let high = keys.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (keys[middle]! < key) low = middle + 1
    else high = middle
  }
  return low
}

/** Builds an index from keys already sorted and distinct, in O(n): leaves three-quarters full, so the next inserts do not split at once. */
export const fromSorted = (keys: ReadonlyArray<string>): KeyIndex => {
  const fill = (maxWidth * 3) >> 2
  let level: Array<Node> = []
  let firsts: Array<string> = []
  for (let start = 0; start < keys.length; start += fill) {
    level.push(new Leaf(keys.slice(start, start + fill), undefined))
    firsts.push(keys[start]!)
  }
  if (level.length === 0) return empty
  while (level.length > 1) {
    const parents: Array<Node> = []
    const parentFirsts: Array<string> = []
    for (let start = 0; start < level.length; start += fill) {
      parents.push(new Branch(firsts.slice(start + 1, start + fill), level.slice(start, start + fill), undefined))
      parentFirsts.push(firsts[start]!)
    }
    level = parents
    firsts = parentFirsts
  }
  return { root: level[0]! }
}

/** Builds an index of `keys`, in any order, distinct. */
export const fromKeys = (keys: Array<string>): KeyIndex => fromSorted(keys.sort())

/** A batch's changes to an index; `done` gives the index they make, after which the editor is spent. */
export class Editor {
  private root: Node
  private readonly edit: Edit = {}
  // The right half of the last split, and its first key, handed up from `insertInto`.
  private splitRight: Node | undefined = undefined
  private splitKey = ""

  constructor(index: KeyIndex) {
    this.root = index.root
  }

  /** Adds `key`; nothing changes if it is there. */
  insert(key: string): void {
    const root = this.insertInto(this.root, key)
    if (root === undefined) return
    if (this.splitRight !== undefined) {
      this.root = new Branch([this.splitKey], [root, this.splitRight], this.edit)
      this.splitRight = undefined
    } else this.root = root
  }

  /** Removes `key`; nothing changes if it is absent. */
  remove(key: string): void {
    let root = this.removeFrom(this.root, key)
    if (root === undefined) return
    while (root instanceof Branch && root.children.length === 1) root = root.children[0]!
    this.root = root instanceof Branch && root.children.length === 0 ? new Leaf([], this.edit) : root
  }

  /** Removes every key. */
  clear(): void {
    this.root = new Leaf([], this.edit)
  }

  done(): KeyIndex {
    return { root: this.root }
  }

  private leaf(node: Leaf): Leaf {
    return node.edit === this.edit ? node : new Leaf(node.keys.slice(), this.edit)
  }

  private branch(node: Branch): Branch {
    return node.edit === this.edit ? node : new Branch(node.separators.slice(), node.children.slice(), this.edit)
  }

  /** The node with `key` added (and `splitRight` set if it had to split), or `undefined` if `key` was there. */
  private insertInto(node: Node, key: string): Node | undefined {
    if (node instanceof Leaf) {
      const at = lowerBound(node.keys, key)
      if (node.keys[at] === key) return undefined
      const leaf = this.leaf(node)
      leaf.keys.splice(at, 0, key)
      if (leaf.keys.length > maxWidth) {
        const right = new Leaf(leaf.keys.splice(leaf.keys.length >> 1), this.edit)
        this.splitRight = right
        this.splitKey = right.keys[0]!
      }
      return leaf
    }
    const at = upperBound(node.separators, key)
    const child = this.insertInto(node.children[at]!, key)
    if (child === undefined) return undefined
    const branch = this.branch(node)
    branch.children[at] = child
    const right = this.splitRight
    if (right !== undefined) {
      this.splitRight = undefined
      branch.separators.splice(at, 0, this.splitKey)
      branch.children.splice(at + 1, 0, right)
      if (branch.children.length > maxWidth) {
        const middle = branch.children.length >> 1
        const separators = branch.separators.splice(middle)
        this.splitKey = branch.separators.pop()!
        this.splitRight = new Branch(separators, branch.children.splice(middle), this.edit)
      }
    }
    return branch
  }

  /** The node with `key` removed (possibly empty), or `undefined` if `key` was absent. */
  private removeFrom(node: Node, key: string): Node | undefined {
    if (node instanceof Leaf) {
      const at = lowerBound(node.keys, key)
      if (node.keys[at] !== key) return undefined
      const leaf = this.leaf(node)
      leaf.keys.splice(at, 1)
      return leaf
    }
    const at = upperBound(node.separators, key)
    const child = this.removeFrom(node.children[at]!, key)
    if (child === undefined) return undefined
    const branch = this.branch(node)
    if (child instanceof Leaf ? child.keys.length === 0 : child.children.length === 0) {
      branch.children.splice(at, 1)
      branch.separators.splice(at === 0 ? 0 : at - 1, 1)
    } else if (child instanceof Leaf && child.keys.length < minLeaf && branch.children.length > 1) {
      // Merge with a neighbour leaf when both fit in one, so that leaves stay dense enough for paging.
      const left = at > 0 ? at - 1 : at
      const pair = left === at ? [child, branch.children[at + 1]!] : [branch.children[left]!, child]
      if (pair[0] instanceof Leaf && pair[1] instanceof Leaf && pair[0].keys.length + pair[1].keys.length <= maxWidth) {
        branch.children.splice(left, 2, new Leaf(pair[0].keys.concat(pair[1].keys), this.edit))
        branch.separators.splice(left, 1)
      } else branch.children[at] = child
    } else branch.children[at] = child
    return branch
  }
}

/** The leaf where `key` is or would be, and the position in it of the first key at or above `key`. */
const locate = (index: KeyIndex, key: string): readonly [Leaf, number] => {
  let node = index.root
  while (node instanceof Branch) node = node.children[upperBound(node.separators, key)]!
  return [node, lowerBound(node.keys, key)]
}

/**
 * The keys of `index` in order, from `from` on (after it if `exclusive`), from the start if
 * `from` is undefined, and before `until` if given: O(log n) to begin, then O(1) a key. The bound
 * is found by position first, so the walk reads no key's text (at a million keys each is a cache
 * miss: comparing every key with a bound made a page cost 3.5x a page at 1k keys).
 */
export function* keysFrom(
  index: KeyIndex,
  from: string | undefined,
  exclusive: boolean,
  until?: string
): Generator<string> {
  if (until !== undefined && from !== undefined && from >= until) return
  const [endLeaf, endAt] = until === undefined ? [undefined, 0] : locate(index, until)
  // The path to the current leaf: each branch and the child taken in it.
  const branches: Array<Branch> = []
  const positions: Array<number> = []
  let node = index.root
  while (node instanceof Branch) {
    const at = from === undefined ? 0 : upperBound(node.separators, from)
    branches.push(node)
    positions.push(at)
    node = node.children[at]!
  }
  let at = from === undefined ? 0 : exclusive ? upperBound(node.keys, from) : lowerBound(node.keys, from)
  for (;;) {
    const keys = node.keys
    const stop = node === endLeaf ? endAt : keys.length
    for (; at < stop; at++) yield keys[at]!
    if (node === endLeaf) return
    // Up to the first branch with a child to the right, then down its leftmost path.
    let depth = branches.length - 1
    while (depth >= 0 && positions[depth]! + 1 >= branches[depth]!.children.length) depth--
    if (depth < 0) return
    positions[depth]!++
    let next: Node = branches[depth]!.children[positions[depth]!]!
    branches.length = depth + 1
    positions.length = depth + 1
    while (next instanceof Branch) {
      branches.push(next)
      positions.push(0)
      next = next.children[0]!
    }
    node = next
    at = 0
  }
}

/** The least string above every string that starts with `prefix` (none for "" or one of only U+FFFF). */
export const prefixEnd = (prefix: string): string | undefined => {
  let end = prefix.length
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--
  return end === 0 ? undefined : prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1)
}

/** The index of `entries`' keys: a sort of every key, once. */
export const fromEntries = (entries: HashMap.HashMap<string, unknown>): KeyIndex => {
  const keys: Array<string> = []
  HashMap.forEach(entries, (_, key) => {
    keys.push(key)
  })
  return fromKeys(keys)
}

/** `index` with the keys that `changes` add and remove. */
export const applyChanges = (index: KeyIndex, changes: ReadonlyArray<Change>): KeyIndex => {
  const editor = new Editor(index)
  const apply = (change: Change) => {
    switch (change._tag) {
      case "Put":
        return editor.insert(change.key)
      case "Delete":
      case "Expire":
        return editor.remove(change.key)
      case "Clear":
        return editor.clear()
      case "Touch":
        return
      case "Atomic":
        for (const inner of change.changes) apply(inner)
    }
  }
  for (const change of changes) apply(change)
  return editor.done()
}
