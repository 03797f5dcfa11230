// The activation snippets the NixOS module generates, run by bash as root in
// the test's private mount namespace the way NixOS runs its activation script
// at boot and on every switch: one bash script, snippets in the order
// activation-script.nix gives them (specialfs, agenixNewGeneration,
// agenixInstall, users, groups, agenixChown, agenix), no `set -e` but
// `trap "_status=1 _localstatus=\$?" ERR`, umask 0022, exit $_status.
//
// The snippets come from nix/lib/activation.nix through the real
// nix-instantiate (no nixpkgs needed), with dist/ageboot, the launcher that
// ships, as the ageboot executable. Secrets are real age files for a real
// ssh-keygen host key (TestHost); owners are the namespace's test users.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";
import { launcherPath, repoRoot, testBuildLauncherPath } from "../helpers/paths.js";
import { accountFilesWith } from "../helpers/user-created-later.js";

beforeAll(requirePrivateNamespace);

const { alice, bob } = TEST_USERS;
// A user that the `users` snippet creates during the activation, as NixOS's
// update-users-groups does for a newly declared user.
const carol = { name: "agetest-carol", uid: 4103, gid: 4103 };

const newHost = hostPerTest();
const extraMounts: string[] = [];
afterEach(() => {
  // Only a mount this file stacked (the test users' own bind mount stays).
  for (const mount of extraMounts.splice(0).reverse()) if (readFileSync(mount, "utf8").includes(`${carol.name}:`)) spawnSync("umount", [mount]);
});

/** The module's snippets for these manifests, from nix/lib/activation.nix. */
function snippets(manifests: string[], chownManifests = manifests, launcher = launcherPath): { install: string; chown: string } {
  const list = (items: string[]) => `[ ${items.map((item) => JSON.stringify(item)).join(" ")} ]`;
  const expression = `import ${join(repoRoot, "nix/lib/activation.nix")} { ageboot = ${JSON.stringify(launcher)}; manifests = ${list(manifests)}; chownManifests = ${list(chownManifests)}; }`;
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expression], { encoding: "utf8" })) as { install: string; chown: string };
}

/**
 * The activation script as activation-script.nix assembles it (headlines,
 * _localstatus reporting and the ERR trap), with `users` standing in for
 * update-users-groups.
 */
function activationScript(parts: { install: string; users?: string; chown: string }): string {
  const snippet = (name: string, text: string) => `#### Activation script snippet ${name}:
_localstatus=0
${text}

if (( _localstatus > 0 )); then
  printf "Activation script snippet '%s' failed (%s)\\n" "${name}" "$_localstatus"
fi
`;
  return [
    "#!/usr/bin/env bash",
    "_status=0",
    'trap "_status=1 _localstatus=\\$?" ERR',
    "umask 0022",
    snippet("specialfs", ":"),
    snippet("agenixNewGeneration", ""),
    snippet("agenixInstall", parts.install),
    snippet("users", parts.users ?? ":"),
    snippet("groups", ""),
    snippet("agenixChown", parts.chown),
    snippet("agenix", ""),
    "exit $_status",
    "",
  ].join("\n");
}

function runActivation(host: TestHost, script: string, env: Record<string, string> = {}): { status: number | null; output: string } {
  const path = join(host.root, "activate");
  writeFileSync(path, script, { mode: 0o700 });
  const result = spawnSync("bash", [path], {
    encoding: "utf8",
    env: { ...process.env, JOURNAL_STREAM: "", NOTIFY_SOCKET: "", ...env },
  });
  const output = result.stdout + result.stderr;
  assertNoCanary("activation script output", output);
  return { status: result.status, output };
}

function ownerGroupMode(path: string): [number, number, string] {
  const info = lstatSync(path);
  return [info.uid, info.gid, (info.mode & 0o7777).toString(8).padStart(4, "0")];
}

/** The `users` snippet: make carol exist (bind-mount a passwd and group that have her). */
function usersSnippetAddingCarol(host: TestHost): string {
  const { passwd, group } = accountFilesWith(host.root, carol);
  extraMounts.push("/etc/passwd", "/etc/group");
  return `mount --bind '${passwd}' /etc/passwd && mount --bind '${group}' /etc/group`;
}

describe("NixOS activation snippets under bash", () => {
  it("boot: installs every secret with owner, group and mode, a copy for symlink = false, and links secretsDir", () => {
    const host = newHost();
    const copy = join(host.root, "etc/app/copy");
    const manifest = host.writeManifest({
      "db-password": { file: host.encrypt("db-pass-1"), owner: alice.name, mode: "0400" },
      shared: { file: host.encrypt("shared-1"), owner: alice.name, group: TEST_GROUPS.shared.name, mode: "u=r,g=r,o=" },
      "-leading-hyphen": { file: host.encrypt("hyphen-1"), owner: bob.name, mode: "440" },
      copied: { file: host.encrypt("copied-1"), owner: bob.name, path: copy, symlink: false, mode: "0400" },
    });
    const { status, output } = runActivation(host, activationScript(snippets([manifest])));
    expect(output).not.toMatch(/ageboot: error|[1-9][0-9]* failed/);
    expect(status, output).toBe(0);
    expect(readlinkSync(host.secretsDir)).toMatch(/agenix\.d\/1$/);
    expect(ownerGroupMode(join(host.secretsDir, "db-password"))).toEqual([alice.uid, alice.gid, "0400"]);
    expect(ownerGroupMode(join(host.secretsDir, "shared"))).toEqual([alice.uid, TEST_GROUPS.shared.gid, "0440"]);
    expect(ownerGroupMode(join(host.secretsDir, "-leading-hyphen"))).toEqual([bob.uid, bob.gid, "0440"]);
    expect(ownerGroupMode(copy)).toEqual([bob.uid, bob.gid, "0400"]);
    expect(lstatSync(copy).isFile()).toBe(true);
    expect(host.read("db-password")).toBe("db-pass-1");
    expect(TestHost.stripCanary(readFileSync(copy, "utf8"), "copy")).toBe("copied-1");
  });

  it("an owner created by this very activation: installed root:root 0400 before users, given to its owner after", () => {
    const host = newHost();
    const manifest = host.writeManifest({
      "carol-token": { file: host.encrypt("carol-1"), owner: carol.name, mode: "0440" },
      "alice-token": { file: host.encrypt("alice-1"), owner: alice.name },
    });
    const parts = snippets([manifest]);

    // agenixInstall alone, as before `users` runs: deferred, not failed.
    const early = runActivation(host, activationScript({ install: parts.install, chown: "" }));
    expect(early.status, early.output).toBe(0);
    expect(early.output).toMatch(/carol-token[^\n]*defer|defer[^\n]*carol-token/i);
    expect(ownerGroupMode(join(host.secretsDir, "carol-token"))).toEqual([0, 0, "0400"]);
    expect(ownerGroupMode(join(host.secretsDir, "alice-token"))).toEqual([alice.uid, alice.gid, "0400"]);

    // The whole activation, with `users` creating carol: she owns her secret.
    const full = runActivation(host, activationScript({ install: parts.install, users: usersSnippetAddingCarol(host), chown: parts.chown }));
    expect(full.status, full.output).toBe(0);
    expect(ownerGroupMode(join(host.secretsDir, "carol-token"))).toEqual([carol.uid, carol.gid, "0440"]);
    expect(host.read("carol-token")).toBe("carol-1");
  });

  it("an owner that never comes: the activation fails and chown names the secret; nothing more readable than 0400 root", () => {
    const host = newHost();
    const manifest = host.writeManifest({ orphan: { file: host.encrypt("orphan-1"), owner: "agetest-nobody-at-all", mode: "0444" } });
    const { status, output } = runActivation(host, activationScript(snippets([manifest])));
    expect(status).toBe(1);
    expect(output).toContain("Activation script snippet 'agenixChown' failed (1)");
    expect(output).toContain("orphan");
    expect(output).toContain("agetest-nobody-at-all");
    expect(ownerGroupMode(join(host.secretsDir, "orphan"))).toEqual([0, 0, "0400"]);
  });

  it("switch: a second run rotates a secret into a new generation and swaps the symlink; the old one is kept", () => {
    const host = newHost();
    const first = host.writeManifest({ token: { file: host.encrypt("token-1"), owner: alice.name } });
    const boot = runActivation(host, activationScript(snippets([first])));
    expect(boot.status, boot.output).toBe(0);
    const before = readlinkSync(host.secretsDir);
    expect(host.read("token")).toBe("token-1");

    const second = host.writeManifest({ token: { file: host.encrypt("token-2"), owner: alice.name } });
    const switched = runActivation(host, activationScript(snippets([second])));
    expect(switched.status, switched.output).toBe(0);
    const after = readlinkSync(host.secretsDir);
    expect(after).not.toBe(before);
    expect(host.read("token")).toBe("token-2");
    expect(ownerGroupMode(join(host.secretsDir, "token"))).toEqual([alice.uid, alice.gid, "0400"]);
    expect(existsSync(resolve(dirname(host.secretsDir), before))).toBe(true); // keepGenerations = 1
  });

  it("dry-activate: the same snippet only reports what a switch would change, and writes nothing", () => {
    const host = newHost();
    const first = host.writeManifest({ token: { file: host.encrypt("token-1"), owner: alice.name } });
    expect(runActivation(host, activationScript(snippets([first]))).status).toBe(0);
    const before = readlinkSync(host.secretsDir);
    const generations = readdirSync(dirname(before));

    const second = host.writeManifest({ token: { file: host.encrypt("token-2"), owner: alice.name }, added: { file: host.encrypt("new") } });
    const dry = runActivation(host, activationScript(snippets([second])), { NIXOS_ACTION: "dry-activate" });
    expect(dry.status, dry.output).toBe(0);
    expect(dry.output).toMatch(/dry run: would install 1 added, 1 changed/);
    expect(readlinkSync(host.secretsDir)).toBe(before);
    expect(readdirSync(dirname(before))).toEqual(generations);
    expect(host.read("token")).toBe("token-1");
  });

  it("a failure is retried by the next run, with the same manifest (nothing has to change for a switch to retry)", () => {
    const host = newHost();
    const good = host.encrypt("good-1");
    const late = join(host.root, "arrives-later.age");
    const manifest = host.writeManifest({
      good: { file: good, owner: alice.name },
      late: { file: late, owner: bob.name },
    });
    const script = activationScript(snippets([manifest]));

    // First boot: `late` is missing. The secrets that decrypted are installed
    // (nothing was current), the activation reports the failure.
    const first = runActivation(host, script);
    expect(first.status).toBe(1);
    expect(first.output).toContain("Activation script snippet 'agenixInstall' failed (1)");
    expect(first.output).toContain("late");
    expect(host.read("good")).toBe("good-1");

    // The file appears (say, a path outside the store); the next switch runs
    // the identical script and succeeds.
    writeFileSync(late, readFileSync(host.encrypt("late-1")));
    const second = runActivation(host, script);
    expect(second.status, second.output).toBe(0);
    expect(host.read("late")).toBe("late-1");
    expect(ownerGroupMode(join(host.secretsDir, "late"))).toEqual([bob.uid, bob.gid, "0400"]);
    unlinkSync(late);
  });

  it("the for-users manifest first, in its own root-only directory, then the regular one", () => {
    const host = newHost();
    const forUsers = join(host.root, "manifest-for-users.json");
    writeFileSync(
      forUsers,
      JSON.stringify({
        version: 1,
        secretsDir: join(host.root, "run/agenix-for-users"),
        secretsMountPoint: join(host.root, "run/agenix-for-users.d"),
        identityPaths: [host.key],
        secrets: { rootpw: { file: host.encrypt("hash-1"), owner: "0", group: "0", mode: "0400" } },
      }),
    );
    const regular = host.writeManifest({ app: { file: host.encrypt("app-1"), owner: alice.name } });
    try {
      const { status, output } = runActivation(host, activationScript(snippets([forUsers, regular], [regular])));
      expect(status, output).toBe(0);
      const rootpw = join(host.root, "run/agenix-for-users/rootpw");
      expect(ownerGroupMode(rootpw)).toEqual([0, 0, "0400"]);
      expect(TestHost.stripCanary(readFileSync(rootpw, "utf8"), "rootpw")).toBe("hash-1");
      expect(host.read("app")).toBe("app-1");
    } finally {
      spawnSync("umount", ["-R", join(host.root, "run/agenix-for-users.d")]);
    }
  });
});

describe("NixOS activation snippets: shape", () => {
  it("each ageboot run is one subshell with core dumps off and an owner-only umask", () => {
    const parts = snippets(["/nix/store/x-manifest.json"]);
    const run = (dry: string) =>
      `( ulimit -c 0 && umask 0077 && exec '${launcherPath}' activate --manifest '/nix/store/x-manifest.json'${dry} --defer-unknown-owners --units-via nixos-activation )`;
    expect(parts.install).toBe(`case "\${NIXOS_ACTION-}" in\n  dry-activate) ${run(" --dry-run")} ;;\n  *) ${run("")} ;;\nesac`);
    expect(parts.chown).toBe(`( ulimit -c 0 && umask 0077 && exec '${launcherPath}' chown --manifest '/nix/store/x-manifest.json' )`);
  });

  it("a failing ageboot marks the activation failed and the script carries on, as NixOS's ERR trap does", () => {
    const host = newHost();
    const script = activationScript({ install: "( ulimit -c 0 && exit 3 )", users: "echo users-ran", chown: "" });
    const { status, output } = runActivation(host, script);
    expect(status).toBe(1);
    expect(output).toContain("Activation script snippet 'agenixInstall' failed (3)");
    expect(output).toContain("users-ran");
  });
});

describe("NixOS activation snippets killed at every step (the crash suite's invariants, through bash)", () => {
  it("a switch killed after any file-system step leaves a complete generation, and the next activation completes it", () => {
    const host = newHost();
    const versions = ["a", "b"].map((tag) => {
      // writeManifest always writes the host's one manifest path: each version keeps a copy of its own.
      const manifest = join(host.root, `manifest-${tag}.json`);
      const written = host.writeManifest({
        token: { file: host.encrypt(`token-${tag}`), owner: alice.name, mode: "0440" },
        "nested/key": { file: host.encrypt(`key-${tag}`), owner: bob.name, group: TEST_GROUPS.shared.name, mode: "u=r,g=r,o=" },
      });
      writeFileSync(manifest, readFileSync(written));
      return { tag, manifest };
    });
    // The test build (dist-test/): the shipped launcher has no fault-injection hooks.
    const scripts = versions.map(({ manifest }) => activationScript(snippets([manifest], [manifest], testBuildLauncherPath)));
    const run = (index: number, env: NodeJS.ProcessEnv = {}) => {
      const path = join(host.root, "activate");
      writeFileSync(path, scripts[index]!, { mode: 0o700 });
      const result = spawnSync("bash", [path], { encoding: "utf8", env: { ...process.env, JOURNAL_STREAM: "", NOTIFY_SOCKET: "", ...env } });
      assertNoCanary("activation script output", result.stdout + result.stderr);
      return result;
    };
    /** Every secret as users see it: all of one version, each with its final owner, group and mode. */
    const assertComplete = (context: string) => {
      const tokens = versions.map(({ tag }) => tag).filter((tag) => host.read("token") === `token-${tag}`);
      expect(tokens, context).toHaveLength(1);
      expect(host.read("nested/key"), context).toBe(`key-${tokens[0]}`);
      expect(ownerGroupMode(join(host.secretsDir, "token")), context).toEqual([alice.uid, alice.gid, "0440"]);
      expect(ownerGroupMode(join(host.secretsDir, "nested/key")), context).toEqual([bob.uid, TEST_GROUPS.shared.gid, "0440"]);
    };

    expect(run(0).status).toBe(0);
    const stepsFile = join(host.root, "steps");
    expect(run(1, { AGEBOOT_TEST_COUNT_STEPS: stepsFile }).status).toBe(0);
    // The count file is written at each ageboot exit: the last is chown's, which has nothing to do here.
    writeFileSync(
      join(host.root, "install-only"),
      activationScript({ install: snippets([versions[0]!.manifest], [versions[0]!.manifest], testBuildLauncherPath).install, chown: "" }),
      { mode: 0o700 },
    );
    const counted = spawnSync("bash", [join(host.root, "install-only")], { env: { ...process.env, AGEBOOT_TEST_COUNT_STEPS: stepsFile } });
    expect(counted.status).toBe(0);
    const steps = readFileSync(stepsFile, "utf8").trim().split("\n");
    expect(steps.length).toBeGreaterThan(10);
    expect(steps).toEqual(expect.arrayContaining(["open lock file", "create secret file", "chown secret file", "swap symlink", "prune generation"]));

    // test/privileged/crash.test.ts kills `activate` after every one of its steps; here what is
    // under test is the snippet around it (subshell, ERR trap, chown after it), so one kill
    // after the first step of each kind, and after the last step, covers it at a third of the cost.
    const killPoints = [...new Set(steps.map((name) => steps.indexOf(name) + 1)), steps.length];
    let current = 1; // the version the last complete activation installed
    for (const step of killPoints) {
      const next = 1 - current;
      const killed = run(next, { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) });
      const context = `killed after step ${step} (${steps[step - 1]})`;
      expect(killed.status, context).not.toBe(0);
      assertComplete(context);
      const recovered = run(next);
      expect(recovered.status, `${context}, then ${recovered.stdout}${recovered.stderr}`).toBe(0);
      expect(host.read("token"), context).toBe(`token-${versions[next]!.tag}`);
      assertComplete(`${context}, then recovered`);
      current = next;
    }
  });
});
