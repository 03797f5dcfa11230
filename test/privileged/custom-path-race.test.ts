// Invariant 7 under a real race (issue 12, item 1): a custom path in a directory
// its owner controls (/home/alice/app/secret, a documented agenix use), while
// that owner, as an unprivileged process, swaps `app` between her real directory
// and a symlink to a root-owned directory in a tight loop. Whatever ageboot
// decides, nothing may be created, renamed or removed in the root-owned
// directory: its entries and its mtime (which any of those changes) stay put.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitCustomPaths, discardCustomPaths, prepareCustomPaths } from "../../src/activation/custom-paths.js";
import { planSecrets } from "../../src/activation/plan.js";
import { validateManifest } from "../../src/manifest/validate.js";
import { UserDatabase } from "../../src/users.js";
import { TestHost } from "../helpers/host.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const host = hostPerFile();
chmodSync(host.root, 0o755); // alice must reach her home inside the test root
const home = join(host.root, "home/alice");
/** The root-owned directory the attacker points `app` at: nothing may change in it. */
const victim = join(host.root, "etc-victim");
let attacker: ChildProcess | null = null;

afterAll(() => {
  attacker?.kill("SIGKILL");
  // alice's copies are hers by design (symlink: false in her home), and her swapping
  // leaves them under names the manifest does not declare (app.other/...): remove her
  // home before the fixture searches the host for plaintext outside what was declared.
  rmSync(home, { recursive: true, force: true });
});

/**
 * Alice's loop: `app` and `app.other` are her real directory and a symlink to
 * the victim; renameat2(RENAME_EXCHANGE) swaps them atomically, so `app` is
 * always one or the other, alternating as fast as the kernel allows. It runs
 * as alice (uid and gid set by spawn), with only what alice may do.
 */
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
os.chdir(sys.argv[1])
os.mkdir("app", 0o755)
os.symlink(sys.argv[2], "app.other")
sys.stdout.write("ready\\n"); sys.stdout.flush()
swaps = 0
while True:
    if libc.renameat2(AT_FDCWD, b"app", AT_FDCWD, b"app.other", RENAME_EXCHANGE) == 0:
        swaps += 1
`;

async function startAttacker(): Promise<ChildProcess> {
  const child = spawn("python3", ["-c", SWAPPER, home, victim], { uid: alice.uid, gid: alice.gid, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the attacker exited early (${code})`)));
    child.stdout!.once("data", () => resolve());
  });
  return child;
}

/** The victim's entries and mtime: any create, rename or unlink in it changes one of them. */
function victimState(): string {
  const info = statSync(victim, { bigint: true });
  return JSON.stringify({ entries: readdirSync(victim), mtime: String(info.mtimeNs), ctime: String(info.ctimeNs) });
}

const copyPath = join(home, "app/id_ed25519");
const linkPath = join(home, "app/token");
let manifestSecrets: Record<string, { file: string; path: string; owner: string; symlink: boolean; mode: string }>;

beforeAll(async () => {
  mkdirSync(home, { recursive: true, mode: 0o755 });
  chmodSync(join(host.root, "home"), 0o755);
  chownSync(home, alice.uid, alice.gid);
  mkdirSync(victim, { mode: 0o755 });
  writeFileSync(join(victim, "untouched"), "root's file\n");
  manifestSecrets = {
    "ssh-key": { file: host.encrypt("alice-key"), path: copyPath, owner: alice.name, symlink: false, mode: "0400" },
    token: { file: host.encrypt("alice-token"), path: linkPath, owner: alice.name, symlink: true, mode: "0400" },
  };
  attacker = await startAttacker();
});

describe("a custom path raced by the owner of its directory", () => {
  it("thousands of plan -> prepare -> install rounds: nothing lands in the root-owned directory", async () => {
    const before = victimState();
    const validated = validateManifest({ version: 1, secretsDir: host.secretsDir, secretsMountPoint: host.mountPoint, identityPaths: [host.key], secrets: manifestSecrets });
    if ("problems" in validated) throw new Error(validated.problems.join("; "));
    const users = UserDatabase.load();
    // A stand-in generation: the staged plaintext the copies are made from.
    const generationDir = join(host.root, "staged");
    mkdirSync(generationDir, { recursive: true });
    for (const name of Object.keys(manifestSecrets)) writeFileSync(join(generationDir, name), `${name} staged\n`, { mode: 0o400 });
    const log = pino({ level: "silent" });
    const deadline = Date.now() + 10_000;
    let rounds = 0;
    let installed = 0;
    let refused = 0;
    while (rounds < 20_000 && Date.now() < deadline) {
      rounds++;
      // The whole path of a run from the plan on: whatever checks the code does, it does them here.
      const outcomes = await planSecrets(validated.manifest, users);
      for (const outcome of outcomes) if (outcome.failed === null) outcome.staged(false);
      const prepared = await prepareCustomPaths(outcomes, { secretsDir: host.secretsDir, secretsMountPoint: host.mountPoint, identityPaths: [host.key] }, generationDir, log);
      if (rounds % 2 === 0) await commitCustomPaths(prepared);
      else discardCustomPaths(prepared);
      for (const outcome of outcomes) {
        if (outcome.failed === null && outcome.pathFailed === null) installed++;
        else refused++;
      }
      if (victimState() !== before) break;
    }
    const duration = 10_000 - (deadline - Date.now());
    process.stderr.write(`custom-path race (in process): ${rounds} rounds in ${duration} ms, ${installed} paths prepared, ${refused} refused\n`);
    expect(victimState(), `after ${rounds} rounds, something was written in ${victim}: ${readdirSync(victim).join(", ")}`).toBe(before);
    expect(readFileSync(join(victim, "untouched"), "utf8")).toBe("root's file\n");
    expect(rounds).toBeGreaterThanOrEqual(1000);
    // Both sides of the race happened: a test that never met the symlink could not fail.
    expect(installed).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 60_000);

  it("ageboot activate, run again and again under the same attack: nothing lands there either", () => {
    const before = victimState();
    host.writeManifest(manifestSecrets);
    // Each run is a whole process (about 0.3 s, more on a loaded machine): fewer rounds, the real entry point.
    const deadline = Date.now() + 10_000;
    let runs = 0;
    const statuses = new Map<number | null, number>();
    while (runs < 200 && Date.now() < deadline) {
      runs++;
      const result = host.activate();
      statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
      expect([0, 7], result.stderr).toContain(result.status);
      if (victimState() !== before) break;
    }
    process.stderr.write(`custom-path race (CLI): ${runs} runs, exit statuses ${JSON.stringify([...statuses])}\n`);
    expect(victimState(), `after ${runs} runs, something was written in ${victim}: ${readdirSync(victim).join(", ")}`).toBe(before);
    expect(runs).toBeGreaterThanOrEqual(5);
    // What did land is in alice's real directory, as hers.
    attacker?.kill("SIGKILL");
    attacker = null;
    for (const dir of ["app", "app.other"].map((name) => join(home, name))) {
      if (!existsSync(dir) || lstatSync(dir).isSymbolicLink()) continue;
      const copy = join(dir, "id_ed25519");
      if (existsSync(copy)) expect([lstatSync(copy).uid, lstatSync(copy).mode & 0o777]).toEqual([alice.uid, 0o400]);
    }
  }, 60_000);
});

describe("custom paths in directories of other users", () => {
  it("a directory of a user who is not the secret's owner is refused, naming the secret", () => {
    const bobsHome = join(host.root, "home/bob");
    mkdirSync(bobsHome, { recursive: true });
    chownSync(bobsHome, TEST_USERS.bob.uid, TEST_USERS.bob.gid);
    const path = join(bobsHome, "alice-secret");
    host.writeManifest({ "for-alice": { file: host.encrypt("a"), path, owner: alice.name, symlink: false } });
    const result = host.activate();
    expect(result.status).toBe(7);
    expect(result.stderr).toContain(`secret for-alice: path ${path}: ${bobsHome} belongs to uid ${TEST_USERS.bob.uid}, which is neither root nor the secret's owner`);
    expect(readdirSync(bobsHome)).toEqual([]);
  });

  it("a symlink root alone could have made is followed (/etc/app -> /persist/etc/app, as on impermanence hosts)", () => {
    const persist = join(host.root, "persist/etc/app");
    mkdirSync(persist, { recursive: true });
    mkdirSync(join(host.root, "etc"), { recursive: true });
    symlinkSync(persist, join(host.root, "etc/app"));
    const path = join(host.root, "etc/app/extra_key");
    host.writeManifest({ extra: { file: host.encrypt("k"), path, symlink: false } });
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(TestHost.stripCanary(readFileSync(join(persist, "extra_key"), "utf8"), "extra_key")).toBe("k");
  });

  it("a world-writable directory that is not sticky is refused", () => {
    const open = join(host.root, "srv/open");
    mkdirSync(open, { recursive: true });
    chmodSync(open, 0o777);
    const path = join(open, "token");
    host.writeManifest({ token: { file: host.encrypt("t"), path } });
    const result = host.activate();
    expect(result.status).toBe(7);
    expect(result.stderr).toContain(`secret token: path ${path}: ${open} is writable by every user and not sticky (mode 777)`);
    expect(readdirSync(open)).toEqual([]);
  });

  it("a directory another group can write is refused unless the secret is given to that group (bob, in it, could swap alice's copy)", () => {
    // root's, writable by agetest-shared (alice and bob): the layout of a shared service directory.
    const shared = join(host.root, "srv/shared");
    mkdirSync(shared, { recursive: true });
    chownSync(shared, 0, TEST_GROUPS.shared.gid);
    chmodSync(shared, 0o775);
    const path = join(shared, "token");
    host.writeManifest({ token: { file: host.encrypt("t"), path, owner: alice.name, symlink: false } });
    const refused = host.activate();
    expect(refused.status).toBe(7);
    expect(refused.stderr).toContain(
      `secret token: path ${path}: ${shared} is writable by group ${TEST_GROUPS.shared.gid} (mode 775; or through an ACL, whose mask shows there), which is not a group the secret is given to`,
    );
    expect(readdirSync(shared)).toEqual([]);
    // The directory's group, but a mode that gives the group nothing: its members are not trusted either.
    host.writeManifest({ token: { file: host.encrypt("t"), path, owner: alice.name, group: TEST_GROUPS.shared.name, mode: "0400", symlink: false } });
    expect(host.activate().stderr).toContain(`${shared} is writable by group ${TEST_GROUPS.shared.gid}`);
    expect(readdirSync(shared)).toEqual([]);
    // The secret's own group, which its mode lets read it: its members are the ones the admin gave it to.
    host.writeManifest({ token: { file: host.encrypt("t"), path, owner: alice.name, group: TEST_GROUPS.shared.name, mode: "0440", symlink: false } });
    const allowed = host.activate();
    expect(allowed.status, allowed.stderr).toBe(0);
    expect(TestHost.stripCanary(readFileSync(path, "utf8"), path)).toBe("t");
  });

  it("a directory where a POSIX ACL lets another user write is refused (the ACL's mask shows as group write)", () => {
    // root:root 0755, plus user:bob:rwx, as `setfacl -m u:bob:rwx` leaves it (written with
    // python3's os.setxattr: the test tools have no setfacl). Its mode then reads 0775.
    const shared = join(host.root, "srv/acl");
    mkdirSync(shared, { recursive: true });
    chmodSync(shared, 0o755);
    const acl = `import os, struct
entries = [(1, 7, 0xFFFFFFFF), (2, 7, ${TEST_USERS.bob.uid}), (4, 5, 0xFFFFFFFF), (0x10, 7, 0xFFFFFFFF), (0x20, 5, 0xFFFFFFFF)]
os.setxattr(${JSON.stringify(shared)}, "system.posix_acl_access", struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))`;
    execFileSync("python3", ["-c", acl]);
    expect(statSync(shared).mode & 0o777).toBe(0o775);
    const path = join(shared, "token");
    host.writeManifest({ token: { file: host.encrypt("t"), path, owner: alice.name, symlink: false } });
    const refused = host.activate();
    expect(refused.status).toBe(7);
    expect(refused.stderr).toContain(`${shared} is writable by group 0 (mode 775; or through an ACL, whose mask shows there)`);
    expect(readdirSync(shared)).toEqual([]);
  });
});
