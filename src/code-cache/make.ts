// Run once by the build (scripts/build.mjs), never installed: compiles the
// bundle exactly as dist/start.cjs does, runs the public demo through it so
// that V8 compiles the activation path, and writes the code cache (bytecode of
// every function compiled so far) to dist/cli.cache.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILE, CACHE_FILE, cacheFile, loadBundle } from "./load.js";

const [dist, demo] = process.argv.slice(2);
if (dist === undefined || demo === undefined) throw new Error("usage: make.cjs DIST DEMO");
const { bundle, script } = loadBundle(dist, false);
void bundle.warmUp(demo).then(() => {
  const partial = join(dist, `${CACHE_FILE}.partial`);
  writeFileSync(partial, cacheFile(readFileSync(join(dist, BUNDLE_FILE)), script.createCachedData()));
  // Renamed into place: a half-written cache is never the one installed (and would only be refused).
  renameSync(partial, join(dist, CACHE_FILE));
});
