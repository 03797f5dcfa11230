import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Script } from "node:vm";

/** What dist/cli.cjs exports (src/code-cache/bundle-entry.ts). */
export interface Bundle {
  run(args: string[], from: string, readyAtMs: number): void;
  warmUp(demoDir: string): Promise<void>;
}

export const BUNDLE_FILE = "cli.cjs";
export const CACHE_FILE = "cli.cache";
/**
 * The name V8 compiles the bundle under, the same wherever dist/ is. V8 keeps
 * the name a code cache was made under (stack traces show it, not the name
 * given when the cache is used), so the real path would put the build
 * directory into dist/cli.cache: two builds in two directories would differ,
 * and an installed bundle would report frames in a directory that is gone.
 */
const SCRIPT_NAME = `ageboot/${BUNDLE_FILE}`;
/** A cache file starts with this digest of the bundle's bytes and the cache's own. */
const DIGEST_BYTES = 32;

export interface LoadedBundle {
  bundle: Bundle;
  /** The compiled bundle, from which the build takes its code cache after the warm-up. */
  script: Script;
  /** "the code-cached bundle", or why the cache was not used. */
  from: string;
}

/**
 * Compiles dist/cli.cjs as CommonJS, through node:vm so that V8 can take its
 * code cache (dist/cli.cache: bytecode of the top level and of every function
 * the build's warm-up ran) instead of parsing and compiling it. V8 checks the
 * cache against its own version and flags and the source's length, and
 * compiles from source when they differ; it does not check that the bytes are
 * the ones the cache was made from, nor, in a release build, the cache's own
 * checksum. So the cache starts with a SHA-256 of the bundle and of the cache,
 * and one that does not match is not given to V8. Either way the bundle runs:
 * a cache only saves time.
 */
export function loadBundle(dir: string, useCache: boolean): LoadedBundle {
  const filename = join(dir, BUNDLE_FILE);
  const source = readFileSync(filename);
  let cachedData: Buffer | undefined;
  let from = "the bundle (no code cache)";
  if (useCache) {
    const cache = readCache(join(dir, CACHE_FILE));
    if (cache === null) from = `the bundle (no ${CACHE_FILE})`;
    else if (!cache.subarray(0, DIGEST_BYTES).equals(cacheDigest(source, cache.subarray(DIGEST_BYTES)))) from = `the bundle (${CACHE_FILE} does not match it)`;
    else cachedData = cache.subarray(DIGEST_BYTES);
  }
  // The build makes the bundle ASCII only (scripts/build.mjs), so latin1 reads it as UTF-8 would, into a one-byte string.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source.toString("latin1")}\n})`, {
    filename: SCRIPT_NAME,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  if (cachedData !== undefined) {
    from = script.cachedDataRejected === true ? `the bundle (${CACHE_FILE} rejected by V8: made by another Node.js or with other flags)` : "the code-cached bundle";
  }
  const module = { exports: {} as Bundle };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(filename), module, filename, dir);
  return { bundle: module.exports, script, from };
}

/** The cache file's contents for `cache`, V8's code cache of `source`. */
export function cacheFile(source: Buffer, cache: Buffer): Buffer {
  return Buffer.concat([cacheDigest(source, cache), cache]);
}

function cacheDigest(source: Buffer, cache: Buffer): Buffer {
  return createHash("sha256").update(source).update(cache).digest();
}

function readCache(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}
