// The home-manager module (nix/home-manager.nix), evaluated by the real
// nix-instantiate with nixpkgs' lib, as test/privileged/nix-module.test.ts
// evaluates the NixOS module. home-manager itself is not available here (no
// network, no nixpkgs): test/fixtures/home-manager/stand-ins.nix declares the
// few home-manager options the module reads and sets, and eval.nix stubs
// lib.hm.dag.entryAfter as home-manager defines it. What is checked is the
// module's own output: the age.* options (agenix's home-manager options), the
// manifest, which the real `ageboot activate --user` loader accepts, the user
// unit, and the home.activation entry, run under bash as home-manager runs it.
//
// Needs nixpkgs' lib (NIXPKGS_LIB, else ../shared/nixpkgs-lib beside the
// repository); fails without it, as the NixOS module's tests do.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadManifest } from "../../src/manifest/load.js";
import type { UserEnvironment } from "../../src/user/environment.js";
import { repoRoot } from "../helpers/paths.js";
import { tempDir } from "../helpers/temp-dir.js";
import { fixtureEvaluator, nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";

const nixpkgsLib = nixpkgsLibFor("the home-manager module evaluation tests");

const evalFile = join(repoRoot, "test/fixtures/home-manager/eval.nix");
const { dir: scratch, cleanup } = tempDir("ageboot-hm-");
afterAll(cleanup);

interface Facts {
  failedAssertions: string[];
  warnings: string[];
  manifest: Record<string, unknown> | null;
  manifestPath: string | null;
  unit: { Unit: Record<string, unknown>; Service: Record<string, unknown>; Install: { WantedBy: string[] }; execStart: string } | null;
  activation: { after: string[]; before: string[]; data: string } | null;
  secretPaths: Record<string, string>;
  ageOptions: Record<string, { type: string; default: unknown }>;
  secretOptions: Record<string, string>;
}

const evaluate = fixtureEvaluator<Facts>(evalFile, nixpkgsLib);

/** alice's session, as the manifest is read in it. */
const alice: UserEnvironment = { uid: 1000, gid: 100, gids: [100], home: "/home/alice", runtimeDir: "/run/user/1000", configHome: "/home/alice/.config" };

describe("home-manager module", () => {
  it("has agenix's home-manager options, types and defaults (ryantm/agenix modules/age-home.nix), and keepGenerations", () => {
    const { ageOptions, secretOptions } = evaluate("minimal");
    expect(Object.keys(ageOptions).sort()).toEqual(["agebootPackage", "identityPaths", "keepGenerations", "package", "secrets", "secretsDir", "secretsMountPoint"]);
    // agenix's mkPackageOption pkgs "age": the age implementation, not ageboot.
    expect(ageOptions["package"]).toEqual({ type: "package", default: "/nix/store/00000000000000000000000000000000-age" });
    expect(ageOptions["identityPaths"]).toEqual({ type: "list of absolute path", default: ["/home/alice/.ssh/id_ed25519", "/home/alice/.ssh/id_rsa"] });
    // Literal, for ageboot to expand at run time as agenix's shell script expanded it.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal default.
    expect(ageOptions["secretsDir"]?.default).toBe("${XDG_RUNTIME_DIR}/agenix");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal default.
    expect(ageOptions["secretsMountPoint"]?.default).toBe("${XDG_RUNTIME_DIR}/agenix.d");
    expect(secretOptions).toEqual({ name: "string", file: "absolute path", path: "string", mode: "string", symlink: "boolean" });
    expect(ageOptions["keepGenerations"]).toEqual({ type: "unsigned integer, meaning >=0", default: 0 });
  });

  it("writes a manifest that activate --user accepts, with agenix's paths expanded in the user's session", async () => {
    for (const configuration of ["minimal", "custom"]) {
      const facts = evaluate(configuration);
      expect(facts.failedAssertions).toEqual([]);
      const file = join(scratch, `${configuration}.json`);
      writeFileSync(file, JSON.stringify(facts.manifest));
      const manifest = await loadManifest(file, alice);
      if (configuration === "minimal") {
        expect(manifest.secretsDir).toBe("/run/user/1000/agenix");
        expect(manifest.secretsMountPoint).toBe("/run/user/1000/agenix.d");
        expect(manifest.identityPaths).toEqual(["/home/alice/.ssh/id_ed25519", "/home/alice/.ssh/id_rsa"]);
        // agenix's home-manager module keeps only the current generation (modules/age-home.nix, cleanupAndLink).
        expect(manifest.keepGenerations).toBe(0);
        expect(manifest.secrets).toEqual([expect.objectContaining({ name: "api-token", path: "/run/user/1000/agenix/api-token", mode: 0o400, owner: "1000", symlink: true })]);
        // What a configuration reads from config.age.secrets.<name>.path: agenix's string.
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal path.
        expect(facts.secretPaths).toEqual({ "api-token": "${XDG_RUNTIME_DIR}/agenix/api-token" });
      } else {
        expect(manifest.secretsDir).toBe("/run/user/1000/secrets");
        expect(manifest.keepGenerations).toBe(3);
        expect(manifest.identityPaths).toEqual(["/home/alice/.config/age/keys.txt"]);
        expect(manifest.secrets.map(({ name, path, mode, symlink }) => ({ name, path, mode, symlink }))).toEqual([
          { name: "api-token", path: "/home/alice/.config/app/token", mode: 0o440, symlink: true },
          { name: "ssh/deploy", path: "/home/alice/.ssh/deploy", mode: 0o400, symlink: false },
        ]);
      }
    }
  });

  it("runs ageboot-user.service at login (default.target) with the manifest it wrote", () => {
    const { unit, manifestPath } = evaluate("minimal");
    expect(unit?.Install.WantedBy).toEqual(["default.target"]);
    expect(unit?.execStart).toMatch(new RegExp(`/bin/ageboot activate --user --manifest ${manifestPath}$`));
    expect(unit?.Service).toMatchObject({ Type: "oneshot", RemainAfterExit: true, UMask: "0077", LimitCORE: 0, SuccessExitStatus: 7 });
  });

  it("runs it on home-manager switch, after writeBoundary; a failure is reported without stopping the switch", () => {
    const { activation, manifestPath } = evaluate("minimal");
    expect(activation?.after).toEqual(["writeBoundary"]);
    const command = `/nix/store/00000000000000000000000000000000-ageboot/bin/ageboot activate --user --manifest ${manifestPath}`;
    expect(activation?.data).toContain(command);
    // As home-manager runs its activation script: bash with set -eu -o pipefail.
    const run = (ageboot: string, env: Record<string, string>) =>
      spawnSync("bash", ["-euo", "pipefail", "-c", activation!.data.replaceAll("/nix/store/00000000000000000000000000000000-ageboot/bin/ageboot", ageboot)], {
        encoding: "utf8",
        env: { PATH: process.env["PATH"], ...env },
      });
    const switched = run("echo ran", { XDG_RUNTIME_DIR: "/run/user/1000" });
    expect(switched.status).toBe(0);
    expect(switched.stdout.trim()).toBe(`ran activate --user --manifest ${manifestPath}`);
    const dry = run("echo ran", { XDG_RUNTIME_DIR: "/run/user/1000", DRY_RUN: "1" });
    expect(dry.stdout.trim()).toBe(`ran activate --user --manifest ${manifestPath} --dry-run`);
    const failed = run("false", { XDG_RUNTIME_DIR: "/run/user/1000" });
    expect(failed.status).toBe(0);
    expect(failed.stderr).toContain("ageboot: some secrets were not installed");
    const noSession = run("false", {});
    expect(noSession.status).toBe(0);
    expect(noSession.stderr).toContain("ageboot-user.service decrypts your secrets at your next login");
  });

  it("age.package keeps agenix's meaning: pkgs.rage there is not run, a warning says so; ageboot is age.agebootPackage", () => {
    const ageboot = (facts: Facts) => facts.unit?.execStart.split(" ")[0];
    const minimal = evaluate("minimal");
    expect([ageboot(minimal), minimal.warnings]).toEqual(["/nix/store/00000000000000000000000000000000-ageboot/bin/ageboot", []]);
    const rage = evaluate("rage");
    expect(rage.failedAssertions).toEqual([]);
    expect(ageboot(rage)).toBe("/nix/store/00000000000000000000000000000000-ageboot/bin/ageboot");
    expect(rage.unit?.execStart).not.toContain("rage");
    expect(rage.activation?.data).not.toContain("rage");
    expect(rage.warnings).toEqual([expect.stringMatching(/^age\.package \(rage\) is not used: it is agenix's age implementation/)]);
    // A configuration that put ageboot there: used, with a warning to move it.
    const moved = evaluate("ageboot-as-package");
    expect(ageboot(moved)).toBe("/nix/store/11111111111111111111111111111111-ageboot/bin/ageboot");
    expect(moved.warnings).toEqual([expect.stringMatching(/^age\.package is set to ageboot: .*age\.agebootPackage/s)]);
  });

  it("adds nothing without secrets, and refuses macOS with a message", () => {
    const empty = evaluate("empty");
    expect([empty.unit, empty.activation, empty.manifest]).toEqual([null, null, null]);
    expect(evaluate("darwin").failedAssertions).toEqual([expect.stringContaining("runs on Linux only")]);
  });
});
