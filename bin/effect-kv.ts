#!/usr/bin/env node
/**
 * The `effect-kv` binary. It runs the bundled CLI (`cli.cjs` beside it, made by `npm run build`
 * from `bin/cli.ts`) as a script compiled from V8's code cache (`cli.cjs.cache`, made by the same
 * build), so that a command starts without parsing and compiling what it runs.
 *
 * Why not the modules as `tsc` emits them: Node reads, links and compiles each of the hundreds of
 * modules of `effect` and `@effect/*` one by one; one file loads at once. Why CommonJS: Node 20
 * compiles ES modules with no code cache, and a script can take one. A cache made by another
 * version of Node is refused by V8, and the script is then compiled from its source as usual.
 * `effect-kv get` beside `node -e ''`, median of 11 interleaved rounds, cpu seconds of the
 * process (on the typed client of every endpoint, before `src/cli/Client.ts` sent its own
 * requests): the modules as `tsc` emits them 1.03 s (17x); one ES module bundle 0.26 s (4.3x); one
 * CommonJS bundle 0.28 s (4.7x), compiled from its code cache 0.19 s (3.2x).
 */
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import * as Vm from "node:vm"

// The build makes this file CommonJS too: Node then starts it without its ES module loader
// (0.16 s beside 0.17 s of cpu, 0.48 s beside 0.54 s of wall clock, median of 11 rounds).
const file = Path.join(__dirname, "cli.cjs")
const cacheFile = `${file}.cache`

// esbuild writes ASCII only, so latin1 reads the bundle exactly, and faster than UTF-8.
const source = Fs.readFileSync(file, "latin1")
const cachedData = Fs.existsSync(cacheFile) ? Fs.readFileSync(cacheFile) : undefined
const script = new Vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  ...(cachedData === undefined ? {} : { cachedData })
})

// The build runs one command with this set, to cache the functions that a command compiles.
if (process.env.EFFECT_KV_WRITE_CODE_CACHE === "1") {
  process.once("exit", () => Fs.writeFileSync(cacheFile, script.createCachedData()))
}

const module = { exports: {} }
const run = script.runInThisContext() as (...args: ReadonlyArray<unknown>) => void
run(module.exports, createRequire(file), module, file, Path.dirname(file))
