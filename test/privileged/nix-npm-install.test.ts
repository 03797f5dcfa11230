// nix/package.nix's npm install, done here the way its builder does it, without
// Nix: the trimmed lock for this machine's platform (nix/lib/npm-lock-closure.nix),
// one tarball per locked package checked against the lock's integrity (what
// the fixed-output derivations check), the lock rewritten to those tarballs
// (nix/lib/npm-lock-files.nix), then what importNpmLock's npmConfigHook runs
// (nixpkgs pkgs/build-support/node/import-npm-lock/hooks/npm-config-hook.sh):
// `npm install --ignore-scripts` offline, `npm rebuild`, and the build.
//
// What differs from Nix: the tarballs come from this machine's npm cache (filled
// by `npm ci`), not from the registry through a fixed-output derivation, and
// npm's own cache during the install is an empty directory rather than the
// sandbox's; no Nix sandbox (network is cut by --offline and the empty cache).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";
import { repoRoot } from "../helpers/paths.js";
import { tempDir } from "../helpers/temp-dir.js";

const nixpkgsLib = nixpkgsLibFor("the offline npm install of the Nix package's trimmed lock");
const { dir, cleanup } = tempDir();
afterAll(cleanup);

function nixEval<T>(expression: string): T {
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", "-E", expression], { encoding: "utf8" })) as T;
}

interface Source {
  key: string;
  name: string;
  version: string;
  spec: string;
  integrity: string;
  storeName: string;
}

describe("the Nix package's npm install, from the trimmed lock alone", () => {
  it("installs offline exactly the kept packages, and the build makes dist/ with a usable code cache", { timeout: 300_000 }, () => {
    const lib = `import (/. + "${nixpkgsLib}/lib")`;
    const platform = {
      os: process.platform,
      cpu: process.arch,
      libc: (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime ? "glibc" : "musl",
    };
    const needed = `(import ${join(repoRoot, "nix/lib/npm-lock-closure.nix")} { lib = ${lib}; } { lock = (${lib}).importJSON ${join(repoRoot, "package-lock.json")}; package = (${lib}).importJSON ${join(repoRoot, "package.json")}; platform = builtins.fromJSON ''${JSON.stringify(platform)}''; buildTools = [ "esbuild" ]; })`;
    const { kept, sources } = nixEval<{ kept: string[]; sources: Source[] }>(
      `let needed = ${needed}; in { inherit (needed) kept; sources = import ${join(repoRoot, "nix/lib/npm-lock-sources.nix")} { lib = ${lib}; } needed.lock; }`,
    );
    expect(sources.map((source) => source.key).sort()).toEqual(kept);

    // One tarball per source, as the fixed-output derivations fetch them (npm pack SPEC), checked as Nix checks them.
    const packDir = join(dir, "pack");
    const tarballDir = join(dir, "tarballs");
    mkdirSync(packDir);
    mkdirSync(tarballDir);
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--offline", "--ignore-scripts", "--json", "--pack-destination", packDir, ...sources.map((source) => source.spec)], {
        encoding: "utf8",
        cwd: dir,
      }),
    ) as Array<{ name: string; version: string; filename: string }>;
    const tarballs: Record<string, string> = {};
    for (const source of sources) {
      const file = packed.find((entry) => entry.name === source.name && entry.version === source.version);
      expect(file, source.spec).toBeDefined();
      const path = join(tarballDir, source.storeName);
      renameSync(join(packDir, file!.filename.replace(/^@/, "").replace("/", "-")), path);
      expect(`sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`, source.spec).toBe(source.integrity);
      tarballs[source.key] = path;
    }

    // The source tree nix/package.nix builds from, with the rewritten package.json and lock.
    const source = join(dir, "source");
    for (const path of ["src", "scripts", "demo", "tsconfig.json", "tsconfig.build.json"]) cpSync(join(repoRoot, path), join(source, path), { recursive: true });
    const files = nixEval<{ lock: object; package: object }>(
      `let needed = ${needed}; in import ${join(repoRoot, "nix/lib/npm-lock-files.nix")} { lib = ${lib}; } { inherit (needed) lock package; tarballs = builtins.fromJSON ''${JSON.stringify(tarballs)}''; }`,
    );
    writeFileSync(join(source, "package.json"), JSON.stringify(files.package, null, 2));
    writeFileSync(join(source, "package-lock.json"), JSON.stringify(files.lock, null, 2));

    const emptyCache = join(dir, "npm-cache");
    const env = {
      ...process.env,
      npm_config_cache: emptyCache,
      npm_config_offline: "true",
      npm_config_fund: "false",
      npm_config_audit: "false",
      npm_config_update_notifier: "false",
    };
    execFileSync("npm", ["install", "--ignore-scripts"], { cwd: source, env, stdio: ["ignore", "pipe", "pipe"] });
    execFileSync("npm", ["rebuild"], { cwd: source, env, stdio: ["ignore", "pipe", "pipe"] });
    // npm's record of what it installed: exactly the kept packages.
    const installed = JSON.parse(readFileSync(join(source, "node_modules/.package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
    expect(Object.keys(installed.packages).sort()).toEqual(kept);

    execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: source, env, stdio: ["ignore", "pipe", "pipe"] });
    for (const file of ["ageboot", "start.cjs", "cli.cjs", "cli.cache", "stage-worker.cjs"]) expect(existsSync(join(source, "dist", file)), file).toBe(true);
    // The same bundle as the checkout's own build, from the trimmed install.
    expect(readFileSync(join(source, "dist/cli.cjs")).equals(readFileSync(join(repoRoot, "dist/cli.cjs")))).toBe(true);
  });
});
