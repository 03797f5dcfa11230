// Bundle the CLI into one file: start-up is dominated by resolving and loading
// hundreds of module files, and a boot waits on it (docs/performance.md).
import { build } from "esbuild";
import { chmod, readFile, rm } from "node:fs/promises";

await rm("dist", { recursive: true, force: true });
const version = JSON.parse(await readFile("package.json", "utf8")).version;
await build({
  // The staging worker is its own entry: activate starts it as a worker thread (src/activation/stage-parallel.ts).
  entryPoints: { cli: "src/cli.ts", "stage-worker": "src/activation/stage-worker.ts" },
  outdir: "dist",
  // Parts only some runs need (the YAML parser) become chunks loaded on demand.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  legalComments: "linked",
  // CommonJS dependencies (sshpk, pino) call require(); give the ES module one.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __agebootCreateRequire } from 'node:module';\nconst require = __agebootCreateRequire(import.meta.url);" },
  minify: true,
  define: { AGEBOOT_VERSION: JSON.stringify(version) },
  logLevel: "warning",
});
await chmod("dist/cli.js", 0o755);
