// Issue 12, item 10: the small ones, each tried as an attacker (or an unlucky
// host) would, through the built CLI on real mounts with real users.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, linkSync, mkdirSync, readdirSync, readFileSync, type Stats, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mountedFilesystemAt } from "../../src/activation/mount.js";
import { NSS_BUDGET_MS } from "../../src/nss-lookups.js";
import type { TestHost } from "../helpers/host.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";

beforeAll(requirePrivateNamespace);

const { alice, bob } = TEST_USERS;
const shared = TEST_GROUPS.shared;

const newHost = hostPerTest();

/** The CLI with extra environment (PATH, fault injection), its output checked for the canary. */
function activateWith(host: TestHost, env: Record<string, string>, timeoutMs?: number) {
  return runAgeboot(["activate", "--manifest", host.manifestPath], { env, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

function lockPathOf(host: TestHost): string {
  return join(dirname(host.mountPoint), `.${host.mountPoint.split("/").at(-1)}.lock`);
}

describe("owners NSS does not know (getent)", () => {
  /** A getent that takes `seconds` to say it knows nothing, as a slow LDAP would, and logs each call. */
  function slowGetent(host: TestHost, seconds: number): { PATH: string; calls: () => string[] } {
    const bin = join(host.root, "slow-nss");
    mkdirSync(bin);
    const log = join(host.root, "getent-calls");
    writeFileSync(log, "");
    writeFileSync(join(bin, "getent"), `#!/bin/sh\necho "$*" >> '${log}'\nsleep ${seconds}\nexit 2\n`, { mode: 0o755 });
    return { PATH: `${bin}:${process.env["PATH"]}`, calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean) };
  }

  it("one unknown owner of 20 secrets is asked of NSS once, not 20 times", () => {
    const host = newHost();
    const nss = slowGetent(host, 1);
    const file = host.encrypt("x");
    host.writeManifest(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`s${i}`, { file, owner: "ghost-user" }])));
    const started = Date.now();
    const result = activateWith(host, { PATH: nss.PATH }, 60_000);
    const seconds = (Date.now() - started) / 1000;
    expect(nss.calls()).toEqual(["passwd ghost-user"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('secret s19: owner "ghost-user" does not exist');
    console.log(`20 secrets, one unknown owner, getent 1 s: ${nss.calls().length} lookup, ${seconds.toFixed(1)} s`);
  });

  it("20 different unknown owners: NSS lookups stop after the run's budget, and the rest say so", () => {
    const host = newHost();
    const nss = slowGetent(host, 2);
    const file = host.encrypt("x");
    host.writeManifest(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`s${i}`, { file, owner: `ghost-${i}` }])));
    const started = Date.now();
    const result = activateWith(host, { PATH: nss.PATH }, 25_000);
    const seconds = (Date.now() - started) / 1000;
    expect(result.signal, "the run was killed: it took too long").toBeNull();
    expect(seconds).toBeLessThan(NSS_BUDGET_MS / 1000 + 4);
    expect(nss.calls().length).toBeLessThanOrEqual(6);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('secret s0: owner "ghost-0" does not exist');
    expect(result.stderr).toMatch(/secret s19: owner "ghost-19" was not looked up: this run's NSS lookups \(getent\) already took 10 s in all/);
    console.log(`20 secrets, 20 unknown owners, getent 2 s: ${nss.calls().length} lookups, ${seconds.toFixed(1)} s`);
  });
});

describe("the host key", () => {
  it("owned by another user: used, with a warning that names the owner", () => {
    const host = newHost();
    chownSync(host.key, alice.uid, alice.gid);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${host.key}: private key is owned by uid ${alice.uid}, not root`);
    expect(host.read("a")).toBe("a");

    chownSync(host.key, 0, 0);
    expect(host.activate().stderr).not.toContain("private key is owned by");
  });
});

describe("the mount", () => {
  it("exit 5 because secretsDir is a real directory: the ramfs this run mounted is unmounted again", () => {
    const host = newHost();
    mkdirSync(host.secretsDir, { recursive: true });
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(5);
    expect(mountedFilesystemAt(host.mountPoint)).toBeNull();
  });

  it("a tmpfs someone else mounted stays mounted when the run fails", () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,nosuid,nodev", "tmpfs", host.mountPoint]);
    mkdirSync(host.secretsDir, { recursive: true });
    host.writeManifest({ a: { file: host.encrypt("a") } });
    expect(host.activate().status).toBe(5);
    expect(mountedFilesystemAt(host.mountPoint)).toBe("tmpfs");
  });

  it("a pre-mounted tmpfs without nosuid,nodev is used with a warning; with them, without one", () => {
    const bare = newHost();
    mkdirSync(bare.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", bare.mountPoint]);
    bare.writeManifest({ a: { file: bare.encrypt("a") } });
    const warned = bare.activate();
    expect(warned.status).toBe(0);
    expect(warned.stderr).toContain(`${bare.mountPoint}: the tmpfs mounted there lacks nosuid,nodev; using it`);

    const hardened = newHost();
    mkdirSync(hardened.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,nosuid,nodev", "tmpfs", hardened.mountPoint]);
    hardened.writeManifest({ a: { file: hardened.encrypt("a") } });
    const quiet = hardened.activate();
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain("lacks");
  });
});

describe("a secret file on its way to its owner (mode before owner)", () => {
  /** Whether `who` may open a file with this owner, group and mode for reading, by the kernel's rules (root aside). */
  function canRead(who: { uid: number; groups: number[] }, file: { uid: number; gid: number; mode: number }): boolean {
    if (who.uid === file.uid) return (file.mode & 0o400) !== 0;
    if (who.groups.includes(file.gid)) return (file.mode & 0o040) !== 0;
    return (file.mode & 0o004) !== 0;
  }
  const people = [
    { name: "alice (the owner)", uid: alice.uid, groups: [alice.gid, shared.gid] },
    { name: "bob (in the group)", uid: bob.uid, groups: [bob.gid, shared.gid] },
    { name: "a member of root's group", uid: 4998, groups: [0] },
    { name: "anyone else", uid: 4999, groups: [4999] },
  ];

  it("killed after each step that gives it its mode or owner: never more readable than at the end, by anyone", () => {
    const host = newHost();
    // Modes that deny the owner what the group or others get: the owner must not read them early.
    const finals: Record<string, { uid: number; gid: number; mode: number }> = {
      "group-only": { uid: alice.uid, gid: shared.gid, mode: 0o040 },
      "others-only": { uid: alice.uid, gid: alice.gid, mode: 0o004 },
      "owner-and-group": { uid: alice.uid, gid: shared.gid, mode: 0o440 },
    };
    host.writeManifest({
      "group-only": { file: host.encrypt("g"), owner: alice.name, group: shared.name, mode: "0040" },
      "others-only": { file: host.encrypt("o"), owner: alice.name, mode: "0004" },
      "owner-and-group": { file: host.encrypt("og"), owner: alice.name, group: shared.name, mode: "0440" },
    });
    const countFile = join(host.root, "steps.txt");
    expect(activateWith(host, { AGEBOOT_TEST_COUNT_STEPS: countFile }).status).toBe(0);
    const steps = readFileSync(countFile, "utf8").trim().split("\n");
    const kills = steps.flatMap((name, index) => (/^ch(own|mod) secret file/.test(name) ? [index + 1] : []));
    expect(kills.length).toBeGreaterThanOrEqual(6);
    let checked = 0;
    for (const step of kills) {
      expect(activateWith(host, { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) }).signal).toBe("SIGKILL");
      const newest = Math.max(
        ...readdirSync(host.mountPoint)
          .filter((name) => /^\d+$/.test(name))
          .map(Number),
      );
      for (const [name, final] of Object.entries(finals)) {
        let info: Stats;
        try {
          info = statSync(join(host.mountPoint, String(newest), name));
        } catch {
          continue; // not created yet in this run
        }
        const now = { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777 };
        for (const person of people) {
          const early = canRead(person, now) && !canRead(person, final);
          expect(early, `after step ${step} (${steps[step - 1]}): ${name} is ${now.uid}:${now.gid} ${now.mode.toString(8)}, readable by ${person.name}`).toBe(false);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});

describe("the lock file", () => {
  it("a FIFO at the lock path: refused (exit 5), nothing mounted", () => {
    const host = newHost();
    mkdirSync(dirname(lockPathOf(host)), { recursive: true });
    execFileSync("mkfifo", [lockPathOf(host)]);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = activateWith(host, {}, 20_000);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(5);
    expect(result.stderr).toContain(`${lockPathOf(host)}: the lock file is not a regular file; refusing to use it`);
    expect(mountedFilesystemAt(host.mountPoint)).toBeNull();
  });

  it("a hard link to another file: refused, and that file is not truncated", () => {
    const host = newHost();
    const victim = join(host.root, "victim");
    writeFileSync(victim, "precious\n", { mode: 0o600 });
    mkdirSync(dirname(lockPathOf(host)), { recursive: true });
    linkSync(victim, lockPathOf(host));
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(5);
    expect(result.stderr).toContain("the lock file has 2 hard links (it must have one)");
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });

  it("owned by another user: refused; a root-owned lock file left readable by others is made 0600", () => {
    const host = newHost();
    mkdirSync(dirname(lockPathOf(host)), { recursive: true });
    writeFileSync(lockPathOf(host), "");
    chownSync(lockPathOf(host), alice.uid, alice.gid);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const refused = host.activate();
    expect(refused.status).toBe(5);
    expect(refused.stderr).toContain(`the lock file is owned by uid ${alice.uid}, not root`);

    chownSync(lockPathOf(host), 0, 0);
    chmodSync(lockPathOf(host), 0o644);
    expect(host.activate().status).toBe(0);
    expect(statSync(lockPathOf(host)).mode & 0o777).toBe(0o600);
  });
});
