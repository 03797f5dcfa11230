// The lean package and the flake's outputs, evaluated by the real
// nix-instantiate with nixpkgs' lib and stand-ins for nixpkgs' builders
// (test/fixtures/nixos/fake-nixpkgs.nix; no nixpkgs here, so nothing is
// built): which locked packages nix/package.nix fetches on each platform
// (nix/lib/npm-lock-closure.nix), that it runs on nodejs-slim, and that
// flake.nix has the outputs users expect, for x86_64-linux and aarch64-linux.
// The offline npm install from the trimmed lock is in nix-npm-install.test.ts.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/paths.js";
import { nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";

const nixpkgsLib = nixpkgsLibFor("the package and flake evaluation tests");

function evaluate<T>(file: string, args: Record<string, string>): T {
  const argstrs = Object.entries({ nixpkgsLib, ...args }).flatMap(([name, value]) => ["--argstr", name, value]);
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", join(repoRoot, file), ...argstrs], { encoding: "utf8" })) as T;
}

/** nix/lib/npm-lock-closure.nix on `lock` (an attribute set as JSON) for `platform`. */
function closure(
  lock: unknown,
  platform: { os: string; cpu: string; libc: string | null },
  buildTools: string[] = [],
): { kept: string[]; dropped: { platform: string[]; unused: string[] } } {
  const expression = `let lib = import (/. + "${nixpkgsLib}/lib"); r = import ${join(repoRoot, "nix/lib/npm-lock-closure.nix")} { inherit lib; } { lock = builtins.fromJSON ''${JSON.stringify(lock)}''; package = { }; platform = builtins.fromJSON ''${JSON.stringify(platform)}''; buildTools = builtins.fromJSON ''${JSON.stringify(buildTools)}''; }; in { inherit (r) kept dropped; }`;
  return JSON.parse(
    execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", "-E", expression], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
  ) as ReturnType<typeof closure>;
}

interface PackageFacts {
  specs: string[];
  kept: string[];
  dropped: { platform: string[]; unused: string[] };
  packageJson: { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  packageLock: { packages: Record<string, { devDependencies?: Record<string, string>; resolved?: string }> };
  cacheNode: string;
  installPhase: string;
}

const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean; os?: string[]; cpu?: string[]; libc?: string[] }>;
};
const packageJson = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const locked = Object.keys(lock.packages).filter((key) => key !== "");
// What the runtime bundle needs: every locked package npm does not mark dev-only.
const runtime = locked.filter((key) => lock.packages[key]!.dev !== true);

describe("nix/package.nix fetches only what the build uses (nix/lib/npm-lock-closure.nix)", () => {
  it.each([
    ["x86_64-linux", "@esbuild/linux-x64"],
    ["aarch64-linux", "@esbuild/linux-arm64"],
    ["aarch64-unknown-linux-musl", "@esbuild/linux-arm64"],
  ])("%s: the runtime dependencies, esbuild and %s, nothing else", (system, esbuildBinary) => {
    const facts = evaluate<PackageFacts>("test/fixtures/nixos/eval-package.nix", { system });
    expect(facts.kept.sort()).toEqual([...runtime, "node_modules/esbuild", `node_modules/${esbuildBinary}`].sort());
    expect(facts.specs).toHaveLength(facts.kept.length);
    // Every locked package is either kept or dropped, for a reason.
    expect([...facts.kept, ...facts.dropped.platform, ...facts.dropped.unused].sort()).toEqual(locked.sort());
    for (const key of facts.dropped.platform) expect(lock.packages[key]!.os ?? lock.packages[key]!.cpu ?? lock.packages[key]!.libc, key).toBeDefined();
    for (const name of ["typescript", "vitest", "@biomejs/biome", "fast-check", "cctv-age"]) expect(facts.dropped.unused).toContain(`node_modules/${name}`);
    // npm gets a package.json and lock that agree (npm refuses a lock out of step with package.json).
    expect(Object.keys(facts.packageJson.devDependencies)).toEqual(["esbuild"]);
    expect(Object.keys(facts.packageLock.packages[""]!.devDependencies ?? {})).toEqual(["esbuild"]);
    expect(Object.keys(facts.packageJson.dependencies).sort()).toEqual(Object.keys(packageJson.dependencies).sort());
    expect(Object.keys(facts.packageLock.packages).sort()).toEqual(["", ...facts.kept].sort());
    for (const key of facts.kept) expect(facts.packageLock.packages[key]!.resolved, key).toMatch(/^file:\/nix\/store\/[0-9a-z]{32}-.*\.tgz$/);
  });

  it("runs on nodejs-slim, and makes the code cache with that same node binary", () => {
    for (const system of ["x86_64-linux", "aarch64-linux"]) {
      const facts = evaluate<PackageFacts>("test/fixtures/nixos/eval-package.nix", { system });
      expect(facts.cacheNode).toBe("/nix/store/00000000000000000000000000000000-nodejs-slim/bin/node");
      expect(facts.installPhase).toContain(facts.cacheNode);
      expect(facts.installPhase).not.toContain("-nodejs/");
    }
  });

  it("follows npm's platform rules: negations, any, libc on Linux only, optional dependencies skipped, required ones an error", () => {
    const entry = (extra: object) => ({ version: "1.0.0", integrity: `sha512-${"A".repeat(86)}==`, ...extra });
    const synthetic = {
      lockfileVersion: 3,
      packages: {
        "": { dependencies: { a: "1" }, devDependencies: { tool: "1", lint: "1" } },
        "node_modules/a": entry({ dependencies: { b: "1" }, optionalDependencies: { "not-windows": "1", "any-cpu": "1", musl: "1", darwin: "1" } }),
        "node_modules/b": entry({ peerDependencies: { c: "1", d: "1" }, peerDependenciesMeta: { d: { optional: true } } }),
        "node_modules/a/node_modules/b": entry({ dependencies: { nested: "1" } }),
        "node_modules/a/node_modules/nested": entry({}),
        "node_modules/nested": entry({}),
        "node_modules/c": entry({}),
        "node_modules/d": entry({}),
        "node_modules/not-windows": entry({ optional: true, os: ["!win32"] }),
        "node_modules/any-cpu": entry({ optional: true, cpu: ["any"] }),
        "node_modules/musl": entry({ optional: true, os: ["linux"], libc: ["musl"] }),
        "node_modules/darwin": entry({ optional: true, os: ["darwin"] }),
        "node_modules/tool": entry({ dev: true }),
        "node_modules/lint": entry({ dev: true }),
      },
    };
    const glibc = closure(synthetic, { os: "linux", cpu: "x64", libc: "glibc" }, ["tool"]);
    // a's own b is the nested one (npm's lookup from node_modules/a), which reaches a/node_modules/nested;
    // the top-level b, c and d are never reached; d was only an optional peer anyway.
    expect(glibc.kept).toEqual([
      "node_modules/a",
      "node_modules/a/node_modules/b",
      "node_modules/a/node_modules/nested",
      "node_modules/any-cpu",
      "node_modules/not-windows",
      "node_modules/tool",
    ]);
    expect(glibc.dropped.platform.sort()).toEqual(["node_modules/darwin", "node_modules/musl"]);
    expect(closure(synthetic, { os: "linux", cpu: "x64", libc: "musl" }).kept).toContain("node_modules/musl");
    expect(closure(synthetic, { os: "win32", cpu: "x64", libc: null }).kept).not.toContain("node_modules/not-windows");

    // Required dependencies that cannot be installed, or are missing, stop the evaluation with the reason.
    const failing =
      (lockFile: object, platform = { os: "linux", cpu: "x64", libc: "glibc" }) =>
      () =>
        closure(lockFile, platform);
    const required = structuredClone(synthetic) as { packages: Record<string, Record<string, unknown>> };
    required.packages["node_modules/a"]!["dependencies"] = { b: "1", darwin: "1" };
    expect(failing(required)).toThrow(/`node_modules\/a` needs `node_modules\/darwin`, which npm does not install on linux-x64/);
    const missing = structuredClone(synthetic) as { packages: Record<string, Record<string, unknown>> };
    missing.packages[""]!["dependencies"] = { absent: "1" };
    expect(failing(missing)).toThrow(/package.json needs `absent`, which the lock does not have/);
    expect(() => closure(synthetic, { os: "linux", cpu: "x64", libc: "glibc" }, ["not-a-dev-dependency"])).toThrow(/build tools not in package.json/);
  });
});

describe("flake.nix outputs", () => {
  interface FlakeFacts {
    outputs: string[];
    packages: Record<string, { names: string[]; defaultIsAgeboot: boolean; esbuild: string[]; runtimeNode: string }>;
    formatter: Record<string, string>;
    checks: Record<string, string[]>;
    overlay: string[];
    homeModulesSame: boolean;
    nixosModules: string[];
  }
  const facts = () => evaluate<FlakeFacts>("test/fixtures/nixos/eval-flake.nix", {});

  it("packages, formatter and checks for x86_64-linux and aarch64-linux, each package built for its own platform", () => {
    const flake = facts();
    for (const [system, binary] of [
      ["x86_64-linux", "@esbuild/linux-x64@0.28.2"],
      ["aarch64-linux", "@esbuild/linux-arm64@0.28.2"],
    ] as const) {
      expect(flake.packages[system]).toEqual({
        names: ["ageboot", "default"],
        defaultIsAgeboot: true,
        esbuild: [binary, "esbuild@0.28.2"],
        runtimeNode: expect.stringContaining("nodejs-slim"),
      });
      expect(flake.formatter[system]).toBe("nixfmt");
      // modules-evaluate needs no KVM; vm and vm-systemd do.
      expect(flake.checks[system]).toEqual(["modules-evaluate", "vm", "vm-systemd"]);
    }
    expect(Object.keys(flake.packages).sort()).toEqual(["aarch64-linux", "x86_64-linux"]);
    // overlays.default builds against the nixpkgs it is applied to (here aarch64-linux's).
    expect(flake.overlay).toEqual(["@esbuild/linux-arm64@0.28.2", "esbuild@0.28.2"]);
  });

  it("has no output `nix flake check` does not know, except homeManagerModules, kept for agenix and sops-nix users", () => {
    const flake = facts();
    // The outputs NixOS/nix's src/nix/flake.cc checks, and those it knows but leaves unchecked.
    const known = [
      "checks",
      "formatter",
      "packages",
      "apps",
      "defaultPackage",
      "devShell",
      "devShells",
      "legacyPackages",
      "overlay",
      "overlays",
      "nixosModule",
      "nixosModules",
      "nixosConfigurations",
      "hydraJobs",
      "defaultTemplate",
      "templates",
      "defaultBundler",
      "bundlers",
      "lib",
      "darwinConfigurations",
      "darwinModules",
      "flakeModule",
      "flakeModules",
      "herculesCI",
      "homeConfigurations",
      "homeModule",
      "homeModules",
      "nixopsConfigurations",
    ];
    expect(flake.outputs.filter((name) => !known.includes(name))).toEqual(["homeManagerModules"]);
    expect(flake.homeModulesSame).toBe(true);
    expect(flake.nixosModules).toEqual(["ageboot", "default", "sops"]);
  });
});
