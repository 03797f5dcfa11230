// The Nix side, as far as it can be checked without nixpkgs: every .nix file
// parses, and the pure manifest function, evaluated by the real nix-instantiate
// on sample configurations, yields manifests that `ageboot activate --dry-run`
// accepts and decrypts (with the demo key and secrets).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { repoRoot } from "../helpers/paths.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function nixFiles(under: string): string[] {
  return readdirSync(under, { withFileTypes: true }).flatMap((entry) => {
    const path = join(under, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name.startsWith(".") ? [] : nixFiles(path);
    return entry.name.endsWith(".nix") ? [path] : [];
  });
}

describe("nix", () => {
  const files = nixFiles(repoRoot);
  it("ships the module, package, flake, pure functions, VM test and the module's test stand-ins", () => {
    expect(files.map((file) => relative(repoRoot, file)).sort()).toEqual(
      expect.arrayContaining([
        "flake.nix",
        "nix/lib/activation.nix",
        "nix/lib/manifest.nix",
        "nix/lib/npm-lock-closure.nix",
        "nix/lib/npm-lock-files.nix",
        "nix/lib/npm-lock-sources.nix",
        "nix/lib/sops-options.nix",
        "nix/lib/user-unit.nix",
        "nix/module.nix",
        "nix/package.nix",
        "nix/tests/evaluate.nix",
        "nix/tests/vm.nix",
        "test/fixtures/nixos/stand-ins.nix",
      ]),
    );
  });

  it.each(files.map((file) => relative(repoRoot, file)))("%s parses (nix-instantiate --parse)", (file) => {
    execFileSync("nix-instantiate", ["--parse", join(repoRoot, file)], { stdio: ["ignore", "ignore", "pipe"] });
  });

  it("the manifest of a sample configuration is accepted by ageboot activate --dry-run", () => {
    const keyDir = join(dir, "keys");
    mkdirSync(keyDir);
    copyFileSync(join(repoRoot, "demo/DEMO-ONLY-ssh_host_ed25519_key"), join(keyDir, "ssh_host_ed25519_key"));
    copyFileSync(join(repoRoot, "demo/DEMO-ONLY-ssh_host_rsa_key"), join(keyDir, "ssh_host_rsa_key"));
    execFileSync("chmod", ["600", join(keyDir, "ssh_host_ed25519_key"), join(keyDir, "ssh_host_rsa_key")]);
    const json = execFileSync(
      "nix-instantiate",
      [
        "--eval",
        "--strict",
        "--json",
        join(repoRoot, "nix/tests/samples/agenix-style.nix"),
        "--argstr",
        "demoDir",
        join(repoRoot, "demo"),
        "--argstr",
        "keyDir",
        keyDir,
        "--argstr",
        "runDir",
        join(dir, "run"),
      ],
      { encoding: "utf8" },
    );
    const manifest = JSON.parse(json) as { secrets: Record<string, unknown> };
    expect(Object.keys(manifest.secrets).sort()).toEqual(["db-password", "services/api-token", "sops-style"]);
    const manifestPath = join(dir, "manifest.json");
    writeFileSync(manifestPath, json);
    const result = runAgeboot(["activate", "--dry-run", "--manifest", manifestPath]);
    expect(result.stderr).toContain("dry run: would install 3 added, 0 changed, 0 removed, 0 unchanged, 0 failed");
    expect(result.status).toBe(0);
  });
});
