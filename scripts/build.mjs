// Build dist/: the CLI as one minified bundle, its start-up snapshot, and the
// launcher that picks between them. Start-up is most of a small run, and a boot
// waits on it (docs/performance.md).
import { execFileSync } from "node:child_process";
import { build } from "esbuild";
import { chmod, copyFile, readFile, rename, rm } from "node:fs/promises";
import { resolve } from "node:path";

await rm("dist", { recursive: true, force: true });
const version = JSON.parse(await readFile("package.json", "utf8")).version;
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  minify: true,
  define: { AGEBOOT_VERSION: JSON.stringify(version) },
  logLevel: "warning",
};

// 1. dist/cli.js, an ES module: what runs without a usable snapshot.
await build({
  ...common,
  // The staging worker is its own entry: activate starts it as a worker thread (src/activation/stage-parallel.ts).
  entryPoints: { cli: "src/cli.ts", "stage-worker": "src/activation/stage-worker.ts" },
  outdir: "dist",
  // Parts only some runs need (the YAML parser) become chunks loaded on demand.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  sourcemap: "linked",
  legalComments: "linked",
  // CommonJS dependencies (sshpk, pino) call require(); give the ES module one.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __agebootCreateRequire } from 'node:module';\nconst require = __agebootCreateRequire(import.meta.url);" },
});
await chmod("dist/cli.js", 0o755);

// 2. dist/ageboot.blob, a V8 start-up snapshot of the whole CLI (src/snapshot/entry.ts).
// `node --build-snapshot` takes one CommonJS script that requires nothing but
// built-in modules, hence a second bundle, in one file; it is only needed to
// build the blob. The blob holds this node's heap: it is built by, and only
// loads into, the node that runs this script (another node exits 14 and the
// launcher runs dist/cli.js instead).
const snapshotEntry = "dist/snapshot-entry.cjs";
await build({
  ...common,
  entryPoints: ["src/snapshot/entry.ts"],
  outfile: snapshotEntry,
  format: "cjs",
  // The snapshot finds dist/ from its --snapshot-blob argument (src/bundle-files.ts), never from import.meta.
  logOverride: { "empty-import-meta": "silent" },
  // worker_threads must not load before the snapshot is taken (the shim says why).
  alias: { worker_threads: "./src/snapshot/worker-threads-shim.cjs" },
  legalComments: "none",
});
// Written under another name and renamed: a half-written blob must never be the one installed.
execFileSync(process.execPath, ["--no-warnings", "--snapshot-blob", "dist/ageboot.blob.partial", "--build-snapshot", snapshotEntry], {
  // Node warns that snapshots of child_process, worker_threads and perf_hooks are "not yet fully
  // verified"; the tests run every command through the snapshot (test/privileged/snapshot.test.ts).
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, AGEBOOT_SNAPSHOT_WARM_UP_DEMO: resolve("demo") },
});
await rename("dist/ageboot.blob.partial", "dist/ageboot.blob");
await rm(snapshotEntry);

// 3. dist/ageboot: the command to install (package.json "bin", the systemd unit, the Nix wrapper).
await copyFile("scripts/launcher.sh", "dist/ageboot");
await chmod("dist/ageboot", 0o755);
