// homeManagerModules.sops (nix/home-manager-sops.nix), evaluated by the real
// nix-instantiate with nixpkgs' lib (test/fixtures/home-manager/eval-sops.nix,
// the home-manager stand-ins of home-manager-module.test.ts), for
// configurations written as sops-nix's home-manager module takes them
// (test/fixtures/home-manager/sops-configurations.nix). Then the
// home.activation entry it generates runs under bash as a real user
// (agetest-alice), as home-manager runs it on a switch, with the real
// ageboot: her secrets, decrypted with her own ssh key from a sops YAML made
// by the test encoder (encrypted to the age1 recipient of that key), land at
// sops-nix's home-manager paths, in a real tmpfs standing for her runtime
// directory.
//
// home-manager itself is not available (no network, no nixpkgs): the
// stand-ins declare the options the module reads and sets.
import { execFileSync, type SpawnSyncReturns, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadManifest } from "../../src/manifest/load.js";
import { placeholderFor } from "../../src/templates/placeholder.js";
import type { UserEnvironment } from "../../src/user/environment.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { fixtureEvaluator, nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";
import { repoRoot, startPath } from "../helpers/paths.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { craftYaml } from "../helpers/sops-craft.js";
import { sshKeygen } from "../helpers/tools.js";

const nixpkgsLib = nixpkgsLibFor("the homeManagerModules.sops evaluation and activation tests");

const evalFile = join(repoRoot, "test/fixtures/home-manager/eval-sops.nix");
const { alice } = TEST_USERS;
const FAKE_AGEBOOT = "/nix/store/00000000000000000000000000000000-ageboot/bin/ageboot";
const FAKE_AGE_KEYGEN = "/nix/store/00000000000000000000000000000000-age/bin/age-keygen";
const FAKE_COREUTILS = "/nix/store/00000000000000000000000000000000-coreutils/bin/";

interface Facts {
  failedAssertions: string[];
  warnings: string[];
  manifest: Record<string, unknown> | null;
  manifestPath: string | null;
  checkPhase: string | null;
  unit: { Unit: Record<string, unknown>; Service: Record<string, unknown>; Install: { WantedBy: string[] }; execStart: string; execStartPre: string } | null;
  activation: { after: string[]; before: string[]; data: string } | null;
  secretPaths: Record<string, string>;
  templatePaths: Record<string, string>;
  placeholder: Record<string, string>;
  optionNames: Record<"sops" | "age" | "gnupg" | "secret" | "template", string[]>;
}

const values = {
  "example-key": `example-${CANARY}`,
  "example-secret": `secret-${CANARY}`,
  myservice: { my_subdir: { my_secret: `nested-${CANARY}` } },
};

// alice's pretend host: her home with her ssh key, her runtime directory (a tmpfs), the sops file.
const host = hostPerFile();
const home = join(host.root, "home/alice");
const sshKey = join(home, ".ssh/id_ed25519");
const runtimeDir = join(host.root, `run/user/${alice.uid}`);
const sopsFile = join(host.root, "secrets.yaml");
const session: UserEnvironment = { uid: alice.uid, gid: alice.gid, gids: [alice.gid], home, runtimeDir, configHome: join(home, ".config") };

beforeAll(async () => {
  requirePrivateNamespace();
  // mkdtemp made it root's 0700; alice must reach her home and the encrypted file.
  chmodSync(host.root, 0o755);
  mkdirSync(join(home, ".ssh"), { recursive: true });
  sshKeygen(join(home, ".ssh"), "id_ed25519", "ed25519");
  for (const path of [home, join(home, ".ssh"), sshKey, `${sshKey}.pub`]) chownSync(path, alice.uid, alice.gid);
  chmodSync(home, 0o700);
  mkdirSync(runtimeDir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=4m,mode=0700,uid=${alice.uid},gid=${alice.gid},nodev,nosuid`, "tmpfs", runtimeDir]);
  const recipient = runAgeboot(["recipient", `${sshKey}.pub`]);
  expect(recipient.status, recipient.stderr).toBe(0);
  writeFileSync(sopsFile, await craftYaml(values, { recipients: [recipient.stdout.trim()] }));
  chmodSync(sopsFile, 0o644);
});

const evaluate = fixtureEvaluator<Facts>(evalFile, nixpkgsLib, { sopsFile, home, sshKey, runtimeDir });

/** The built ageboot, as a program the scripts can run in place of the placeholder package's. */
function realAgeboot(): string {
  const ageboot = join(host.root, "ageboot");
  writeFileSync(ageboot, `#!/bin/sh\nexec ${process.execPath} ${startPath} "$@"\n`, { mode: 0o755 });
  return ageboot;
}

/**
 * The configuration's home.activation entry run as home-manager runs it on a
 * switch (bash with set -eu -o pipefail), as alice, in her session: the real
 * ageboot, age-keygen and coreutils in place of the placeholder packages, the manifest
 * as the store would hold it (the YAML's store path being the file the test made).
 */
function switchAsAlice(configuration: string): SpawnSyncReturns<string> {
  const facts = evaluate(configuration);
  const manifestFile = join(host.root, `${configuration}-switch-manifest.json`);
  writeFileSync(manifestFile, JSON.stringify(facts.manifest).replaceAll(/\/nix\/store\/[a-z0-9]{32}-secrets\.yaml/g, sopsFile));
  chmodSync(manifestFile, 0o644);
  const ageboot = realAgeboot();
  const script = facts
    .activation!.data.replaceAll(FAKE_AGEBOOT, ageboot)
    .replaceAll(facts.manifestPath!, manifestFile)
    .replaceAll(FAKE_AGE_KEYGEN, "age-keygen")
    .replaceAll(FAKE_COREUTILS, "");
  return spawnSync("setpriv", [`--reuid=${alice.uid}`, `--regid=${alice.gid}`, "--clear-groups", "--", "bash", "-euo", "pipefail", "-c", script], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"], HOME: home, XDG_RUNTIME_DIR: runtimeDir },
  });
}

describe("homeManagerModules.sops, evaluated with nixpkgs' lib (NIXPKGS_LIB)", () => {
  it("declares every option sops-nix's home-manager module declares (Mic92/sops-nix modules/home-manager/sops.nix, templates.nix)", () => {
    // Read at Mic92/sops-nix 56b24064fdcaedca53553b1a6d607fd23b613a24.
    expect(evaluate("readme").optionNames).toEqual({
      sops: [
        "age",
        "defaultSecretsMountPoint",
        "defaultSopsFile",
        "defaultSopsFormat",
        "defaultSopsKey",
        "defaultSymlinkPath",
        "environment",
        "gnupg",
        "keepGenerations",
        "log",
        "package",
        "placeholder",
        "secrets",
        "templates",
        "validateSopsFiles",
      ],
      age: ["generateKey", "keyFile", "plugins", "sshKeyPaths"],
      gnupg: ["home", "package", "qubes-split-gpg", "sshKeyPaths"],
      secret: ["format", "key", "mode", "name", "path", "sopsFile"],
      template: ["content", "file", "mode", "name", "path"],
    });
  });

  it("sops-nix's paths: secrets at ~/.config/sops-nix/secrets/<name>, templates in rendered/, the plaintext in $XDG_RUNTIME_DIR", async () => {
    const facts = evaluate("readme");
    expect(facts.failedAssertions).toEqual([]);
    expect(facts.warnings).toEqual([]);
    const secrets = join(home, ".config/sops-nix/secrets");
    expect(facts.secretPaths).toEqual({
      "example-key": `${secrets}/example-key`,
      "example-secret": `${secrets}/example-secret`,
      "myservice/my_subdir/my_secret": `${secrets}/myservice/my_subdir/my_secret`,
      whole: join(home, ".config/app/whole.yaml"),
    });
    expect(facts.templatePaths).toEqual({ "app.toml": `${secrets}/rendered/app.toml` });
    // ageboot's placeholder, which activation replaces (sops-nix's is <SOPS:…>, replaced by its own installer).
    expect(facts.placeholder["example-key"]).toBe(placeholderFor("example-key"));
    const file = join(host.root, "readme-manifest.json");
    writeFileSync(file, JSON.stringify(facts.manifest));
    const manifest = await loadManifest(file, session);
    expect([manifest.secretsDir, manifest.secretsMountPoint, manifest.identityPaths]).toEqual([`${runtimeDir}/secrets`, `${runtimeDir}/secrets.d`, [sshKey]]);
    expect(manifest.secrets.map(({ name, format, key, mode, path, symlink }) => ({ name, format, key, mode, path, symlink }))).toEqual([
      { name: "example-key", format: "yaml", key: "example-key", mode: 0o400, path: `${secrets}/example-key`, symlink: true },
      { name: "example-secret", format: "yaml", key: "example-secret", mode: 0o440, path: `${secrets}/example-secret`, symlink: true },
      { name: "myservice/my_subdir/my_secret", format: "yaml", key: "myservice/my_subdir/my_secret", mode: 0o400, path: `${secrets}/myservice/my_subdir/my_secret`, symlink: true },
      { name: "whole", format: "yaml", key: "", mode: 0o400, path: join(home, ".config/app/whole.yaml"), symlink: true },
    ]);
  });

  it("sops.keepGenerations counts the current generation as sops-nix does: default 1 keeps it alone, 0 never prunes", () => {
    expect(evaluate("readme").manifest?.["keepGenerations"]).toBe(0);
    expect(evaluate("keep-all").manifest?.["keepGenerations"]).toBe("all");
    expect(evaluate("keep-three").manifest?.["keepGenerations"]).toBe(2);
  });

  it("runs at login as sops-nix.service and on a switch as the home.activation entry sops-nix, sops-nix's names", () => {
    const { unit, activation, manifestPath } = evaluate("readme");
    expect(unit?.Install.WantedBy).toEqual(["default.target"]);
    expect(unit?.execStart).toBe(`${FAKE_AGEBOOT} activate --user --manifest ${manifestPath}`);
    expect(unit?.execStartPre).toMatch(/-sops-nix-user-prepare$/);
    expect(unit?.Service).toMatchObject({ Type: "oneshot", RemainAfterExit: true, UMask: "0077", LimitCORE: 0, SuccessExitStatus: 7 });
    expect(activation?.after).toEqual(["writeBoundary"]);
    expect(activation?.data).toContain(`${FAKE_AGEBOOT} activate --user --manifest ${manifestPath} --dry-run`);
  });

  it("%r is $XDG_RUNTIME_DIR in the mount point and in secrets' and templates' paths; generateKey makes the key first", async () => {
    const facts = evaluate("runtime-paths");
    expect(facts.failedAssertions).toEqual([]);
    const file = join(host.root, "runtime-manifest.json");
    writeFileSync(file, JSON.stringify(facts.manifest));
    const manifest = await loadManifest(file, session);
    expect([manifest.secretsDir, manifest.secretsMountPoint]).toEqual([`${runtimeDir}/sops`, `${runtimeDir}/sops.d`]);
    expect(manifest.secrets[0]?.path).toBe(`${runtimeDir}/app/key`);
    expect(manifest.templates[0]?.path).toBe(`${runtimeDir}/app/t`);
    expect(facts.activation?.data).toMatch(/-age\/bin\/age-keygen -o \/home\/alice\/\.config\/sops\/age\/keys\.txt/);
  });

  it.each([
    ["gnupg-home", "sops.gnupg.home: not supported by ageboot"],
    ["qubes", "sops.gnupg.qubes-split-gpg.enable: not supported by ageboot"],
    ["age-plugins", "sops.age.plugins: not supported by ageboot"],
  ])("%s: an assertion says ageboot does not support it (PGP, plugins)", (configuration, message) => {
    expect(evaluate(configuration).failedAssertions).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^${message.replaceAll(".", "\\.")}.*not PGP, KMS or age\\nplugins`, "s"))]),
    );
  });

  it("what ageboot cannot honour, or sops-nix's own installer, is an assertion that says what to do", () => {
    expect(evaluate("mount-point-on-disk").failedAssertions).toEqual([
      expect.stringMatching(/^sops\.defaultSecretsMountPoint = "\/home\/alice\/\.secrets\.d": ageboot keeps .* inside \$XDG_RUNTIME_DIR.*%r\//),
    ]);
    expect(evaluate("percent").failedAssertions).toEqual([expect.stringMatching(/^\/home\/alice\/%r\/key: ageboot expands only a leading %r/)]);
    expect(evaluate("percent-in-symlink-path").failedAssertions).toEqual([expect.stringMatching(/^\/home\/alice\/%h\/secrets: ageboot expands only a leading %r/)]);
    expect(evaluate("foreign-package").failedAssertions).toEqual([expect.stringMatching(/^sops\.package is sops-install-secrets: .* must be the ageboot package/)]);
    expect(evaluate("no-keys").failedAssertions).toEqual([expect.stringMatching(/^No key source configured for sops: set sops\.age\.keyFile .* or sops\.age\.sshKeyPaths/)]);
    const notInStore = evaluate("not-in-store");
    expect(notInStore.failedAssertions).toEqual([
      "sops.validateSopsFiles:\n- Cannot find path '/home/alice/secrets.yaml' set in sops.secrets.example-key.sopsFile\n- '/home/alice/secrets.yaml' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false",
    ]);
    expect(notInStore.warnings).toEqual([expect.stringMatching(/^sops\.environment \(SOPS_GPG_EXEC\) is not used/)]);
  });

  it("the manifest's checkPhase runs ageboot check at build time (sops-nix's check mode): passes, or names a missing key", () => {
    const ageboot = realAgeboot();
    const build = (configuration: string) => {
      const { checkPhase } = evaluate(configuration);
      // As the builder runs it: bash -e in a scratch directory, the store's sops file being the one the test made.
      const directory = join(host.root, `check-${configuration}`);
      mkdirSync(directory);
      const script = checkPhase!.replaceAll(FAKE_AGEBOOT, ageboot).replaceAll(/\/nix\/store\/[a-z0-9]{32}-secrets\.yaml/g, sopsFile);
      return spawnSync("bash", ["-e", "-c", script], { cwd: directory, encoding: "utf8", env: { PATH: process.env["PATH"] } });
    };
    const passed = build("readme");
    expect(passed.status, passed.stderr).toBe(0);
    const failed = build("missing-key");
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/not-there/);
    expect(failed.stderr).not.toMatch(/example-key.*(problem|not found)/);
    expect(evaluate("not-validated").checkPhase).toBe("");
  });

  it("adds nothing without secrets", () => {
    const empty = evaluate("empty");
    expect([empty.unit, empty.activation, empty.manifest, empty.failedAssertions]).toEqual([null, null, null, []]);
  });

  it("home-manager switch, run as alice: replaces sops-nix's old link, installs her secrets and template at sops-nix's paths", () => {
    // What sops-nix left: its link from defaultSymlinkPath to its generation.
    const secrets = join(home, ".config/sops-nix/secrets");
    mkdirSync(join(home, ".config/sops-nix"), { recursive: true });
    for (const dir of [join(home, ".config"), join(home, ".config/sops-nix")]) chownSync(dir, alice.uid, alice.gid);
    symlinkSync(`${runtimeDir}/secrets.d/1`, secrets);
    lchownSync(secrets, alice.uid, alice.gid);

    const switched = switchAsAlice("readme");
    expect(switched.status, switched.stderr).toBe(0);
    expect(switched.stdout).toContain(`removing sops-nix's link ${secrets}`);
    expect(switched.stderr).not.toContain("not installed");
    expect(switched.stderr).not.toContain(CANARY);
    expect(switched.stdout).not.toContain(CANARY);

    expect(lstatSync(secrets).isDirectory()).toBe(true);
    expect(readlinkSync(join(secrets, "example-key"))).toBe(`${runtimeDir}/secrets/example-key`);
    expect(readFileSync(join(secrets, "example-key"), "utf8")).toBe(values["example-key"]);
    expect(readFileSync(join(secrets, "myservice/my_subdir/my_secret"), "utf8")).toBe(values.myservice.my_subdir.my_secret);
    const target = lstatSync(join(runtimeDir, "secrets/example-secret"));
    expect([target.uid, target.gid, (target.mode & 0o777).toString(8)]).toEqual([alice.uid, alice.gid, "440"]);
    expect(readFileSync(join(secrets, "rendered/app.toml"), "utf8")).toBe(`password = "${values["example-key"]}"\n`);
    // key "": the whole decrypted file.
    expect(readFileSync(join(home, ".config/app/whole.yaml"), "utf8")).toContain(values["example-secret"]);
    // The plaintext is on the tmpfs only: what is in the home are links.
    expect(lstatSync(join(secrets, "example-key")).isSymbolicLink()).toBe(true);
    expect(existsSync(join(runtimeDir, "secrets.d"))).toBe(true);
  });

  it.each([
    ["symlink-is-secrets-dir", "as an absolute path"],
    ["symlink-is-secrets-dir-percent", "with %r"],
  ])("%s: defaultSymlinkPath is secretsDir (%s): switches keep ageboot's link, and a failing secret keeps the previous generation", (configuration) => {
    const secretsDir = join(runtimeDir, "secrets");
    const generation = (number: number) => join(runtimeDir, "secrets.d", String(number));
    const first = switchAsAlice(configuration);
    expect(first.status, first.stderr).toBe(0);
    const current = readlinkSync(secretsDir);
    const second = switchAsAlice(configuration);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout, "ageboot's own link is not sops-nix's").not.toContain("removing sops-nix's link");
    const afterSecond = readlinkSync(secretsDir);
    expect(afterSecond).not.toBe(current);
    expect(Number(afterSecond.slice(afterSecond.lastIndexOf("/") + 1))).toBe(Number(current.slice(current.lastIndexOf("/") + 1)) + 1);
    expect(readFileSync(join(secretsDir, "example-key"), "utf8")).toBe(values["example-key"]);
    // A switch after which a secret fails: not a first run (the link was kept), so the generation stays.
    const failing = switchAsAlice(`${configuration}-failing`);
    expect(failing.stderr).toContain("not-there");
    expect(failing.stderr).toContain("ageboot: some secrets were not installed");
    expect(readlinkSync(secretsDir)).toBe(afterSecond);
    expect(existsSync(join(secretsDir, "not-there"))).toBe(false);
    expect([readFileSync(join(secretsDir, "example-key"), "utf8"), readFileSync(join(secretsDir, "example-secret"), "utf8")]).toEqual([
      values["example-key"],
      values["example-secret"],
    ]);
    expect(existsSync(generation(Number(afterSecond.slice(afterSecond.lastIndexOf("/") + 1)) + 1)), "the failed generation was discarded").toBe(false);
  });

  it("%r in defaultSymlinkPath is $XDG_RUNTIME_DIR: sops-nix's link there is removed (not a literal %r/ path in the working directory)", () => {
    const link = join(runtimeDir, "sops-nix-secrets");
    symlinkSync(`${runtimeDir}/secrets.d/1`, link);
    lchownSync(link, alice.uid, alice.gid);
    const switched = switchAsAlice("percent-symlink-path");
    expect(switched.status, switched.stderr).toBe(0);
    expect(switched.stdout).toContain(`removing sops-nix's link ${link}`);
    expect(lstatSync(link).isDirectory()).toBe(true);
    expect(readFileSync(join(link, "example-key"), "utf8")).toBe(values["example-key"]);
  });

  it("generateKey: the switch makes alice's age key (0600, hers) before the run, and keeps it on the next", () => {
    const keyFile = join(home, ".config/sops/age/keys.txt");
    expect(existsSync(keyFile)).toBe(false);
    const first = switchAsAlice("generate-key");
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("generating machine-specific age key...");
    const made = lstatSync(keyFile);
    expect([made.uid, made.gid, (made.mode & 0o777).toString(8)]).toEqual([alice.uid, alice.gid, "600"]);
    const key = readFileSync(keyFile, "utf8");
    expect(key).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
    // The sops file is not encrypted to this new key: the secret fails, reported, and the switch goes on.
    expect(first.stderr).toContain("ageboot: some secrets were not installed");
    const second = switchAsAlice("generate-key");
    expect(second.stdout).not.toContain("generating machine-specific age key...");
    expect(readFileSync(keyFile, "utf8")).toBe(key);
  });
});
