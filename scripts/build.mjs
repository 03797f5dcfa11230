// Build dist/: the CLI as one minified CommonJS bundle, its V8 code cache, and
// the launcher. Start-up is most of a small run, and a boot waits on it
// (docs/performance.md). Then the same again into dist-test/, with the crash
// tests' fault-injection hooks (src/fault-injection.ts) compiled in: dist/,
// what ships, has none (issue 22, item 4), and the tests that kill ageboot at
// each step run dist-test/ (test/helpers/paths.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { build } from "esbuild";
import { chmod, copyFile, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";

const version = JSON.parse(await readFile("package.json", "utf8")).version;

/** One build of the CLI into `outdir`, with the fault-injection hooks or without them. */
async function buildInto(outdir, faultInjection) {
  await rm(outdir, { recursive: true, force: true });
  const common = {
    bundle: true,
    platform: "node",
    target: "node20",
    minify: true,
    format: "cjs",
    // ASCII only (non-ASCII characters escaped): dist/start.cjs reads the bundle as latin1 into a one-byte string.
    charset: "ascii",
    // AGEBOOT_FAULT_INJECTION false: esbuild drops the hooks' code as dead (src/fault-injection.ts).
    define: { AGEBOOT_VERSION: JSON.stringify(version), AGEBOOT_FAULT_INJECTION: JSON.stringify(faultInjection) },
    logLevel: "warning",
  };

  // 1. dist/cli.cjs: the whole CLI, loaded by dist/start.cjs (src/code-cache/load.ts) through node:vm.
  // CommonJS, because node:vm takes and makes V8 code caches for scripts only. It finds
  // the staging worker beside itself (src/bundle-files.ts) from the __filename it is given.
  await build({
    ...common,
    entryPoints: { cli: "src/code-cache/bundle-entry.ts" },
    outdir,
    outExtension: { ".js": ".cjs" },
    define: { ...common.define, "import.meta.url": "__agebootBundleUrl" },
    banner: { js: 'var __agebootBundleUrl=require("node:url").pathToFileURL(__filename).href;' },
    sourcemap: "linked",
    legalComments: "linked",
  });
  // 2. dist/stage-worker.cjs: the staging thread (src/activation/stage-parallel.ts), and dist/start.cjs.
  await build({
    ...common,
    entryPoints: { "stage-worker": "src/activation/stage-worker.ts", start: "src/code-cache/start.ts" },
    outdir,
    outExtension: { ".js": ".cjs" },
    sourcemap: "linked",
    legalComments: "linked",
  });

  // 3. dist/cli.cache: V8's code cache of the bundle after it ran the public demo (src/code-cache/make.ts).
  // Made by the node that will run it: AGEBOOT_CACHE_NODE (the Nix package's nodejs-slim,
  // nix/package.nix) or, by default, the node running this script. V8 refuses a cache made by
  // another Node.js or with other flags, and the bundle then compiles from source.
  // --predictable (one thread, no concurrent compilation or GC, fixed seeds) makes the cache
  // the same bytes at every build (test/privileged/code-cache-reproducible.test.ts); V8 leaves
  // that flag out of the flag hash it checks, so the launcher's plain node takes the cache, and
  // the check below fails the build if a Node.js ever does not.
  const cacheNode = process.env.AGEBOOT_CACHE_NODE || process.execPath;
  const maker = join(outdir, "make-code-cache.cjs");
  await build({ ...common, entryPoints: ["src/code-cache/make.ts"], outfile: maker, legalComments: "none" });
  execFileSync(cacheNode, ["--predictable", maker, resolve(outdir), resolve("demo")], { stdio: ["ignore", "inherit", "inherit"] });
  await rm(maker);
  const check = spawnSync(cacheNode, [join(outdir, "start.cjs"), "--log-level", "debug", "--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (check.status !== 0 || !check.stderr.includes("from the code-cached bundle")) {
    throw new Error(`${outdir}/cli.cache is not used by ${cacheNode} without flags (exit ${check.status}):\n${check.stderr}`);
  }

  // 4. dist/ageboot: the command to install (package.json "bin", the systemd unit, scripts/install-package.sh).
  await copyFile("scripts/launcher.sh", join(outdir, "ageboot"));
  await chmod(join(outdir, "ageboot"), 0o755);
}

await buildInto("dist", false);
await buildInto("dist-test", true);
