// `ageboot activate --user`: a real unprivileged user (agetest-alice, from the
// private namespace's /etc/passwd) activates their own secrets, decrypted with
// their own SSH key, into a real tmpfs that stands for their runtime directory
// (/run/user/UID, which systemd-logind mounts so: mode 0700, owned by them).
// Another real user cannot read them; a runtime directory on a disk, someone
// else's or writable by others is refused; and a SIGKILL after every
// file-system step of a run leaves a complete generation visible.
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";
import { sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const newHost = hostPerTest();
const { alice, bob } = TEST_USERS;
const { shared } = TEST_GROUPS;

/** alice's session on a pretend host: her home with her SSH key, her runtime directory, her manifest. */
interface Session {
  host: TestHost;
  home: string;
  runtimeDir: string;
  key: string;
  manifest: string;
}

/** A tmpfs as systemd-logind mounts a runtime directory: mode 0700, owned by the user. */
function mountRuntimeDir(path: string, uid: number, gid: number, mode = "0700"): void {
  mkdirSync(path, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=4m,mode=${mode},uid=${uid},gid=${gid},nodev,nosuid`, "tmpfs", path]);
}

function newSession(): Session {
  const host = newHost();
  // mkdtemp made it root's 0700; the users must reach their homes and the encrypted files in it.
  chmodSync(host.root, 0o755);
  const home = join(host.root, "home/alice");
  mkdirSync(join(home, ".ssh"), { recursive: true });
  const key = sshKeygen(join(home, ".ssh"), "id_ed25519", "ed25519");
  for (const path of [home, join(home, ".ssh"), key, `${key}.pub`]) chownSync(path, alice.uid, alice.gid);
  chmodSync(home, 0o700);
  const runtimeDir = join(host.root, `run/user/${alice.uid}`);
  mountRuntimeDir(runtimeDir, alice.uid, alice.gid);
  return { host, home, runtimeDir, key, manifest: join(host.root, "user-manifest.json") };
}

function writeUserManifest(session: Session, document: Record<string, unknown>): void {
  writeFileSync(session.manifest, JSON.stringify({ version: 1, ...document }));
  chmodSync(session.manifest, 0o644);
}

/** Encrypted to alice's own key with the real age; root's file, in root's directory. */
function encryptForAlice(session: Session, value: string): string {
  return session.host.encrypt(value, `${session.key}.pub`);
}

function activateAs(session: Session, user: { uid: number; gid: number }, env: Record<string, string> = {}, ...args: string[]): SpawnSyncReturns<string> {
  return runAgeboot(["activate", "--user", "--manifest", session.manifest, ...args], {
    asUser: { uid: user.uid, gid: user.gid },
    env: { HOME: session.home, XDG_RUNTIME_DIR: session.runtimeDir, ...env },
  });
}

function ownerGroupMode(path: string): [number, number, string] {
  const info = lstatSync(path);
  return [info.uid, info.gid, (info.mode & 0o7777).toString(8).padStart(4, "0")];
}

function readSecret(path: string): string {
  return TestHost.stripCanary(readFileSync(path, "utf8"), path);
}

describe("a user's own secrets", () => {
  it("are decrypted with the user's own key into a tmpfs under their runtime directory, at agenix's home-manager paths", () => {
    const session = newSession();
    const { runtimeDir, home } = session;
    writeUserManifest(session, {
      secrets: {
        "api-token": { file: encryptForAlice(session, "token-1") },
        "shell/env": { file: encryptForAlice(session, "env-1"), mode: "0440" },
        // agenix's home-manager module writes its paths for the shell to expand; so can a hand-written manifest.
        "app-key": { file: encryptForAlice(session, "app-1"), path: "~/.config/app/key" },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text agenix's module writes, for ageboot to expand.
        "in-runtime": { file: encryptForAlice(session, "copy-1"), path: "${XDG_RUNTIME_DIR}/app/copy", symlink: false, mode: "0600" },
        named: { file: encryptForAlice(session, "named-1"), owner: alice.name },
      },
    });
    const first = activateAs(session, alice);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain("generation 1 is current: 5 added");
    // No id_rsa in her ~/.ssh: the second default identity is skipped with a warning.
    expect(first.stderr).toMatch(/\.ssh\/id_rsa: identity file does not exist, skipped/);

    const secretsDir = join(runtimeDir, "agenix");
    expect(readlinkSync(secretsDir)).toBe(join(runtimeDir, "agenix.d/1"));
    expect(readSecret(join(secretsDir, "api-token"))).toBe("token-1");
    expect(ownerGroupMode(join(secretsDir, "api-token"))).toEqual([alice.uid, alice.gid, "0400"]);
    expect(ownerGroupMode(join(secretsDir, "shell/env"))).toEqual([alice.uid, alice.gid, "0440"]);
    expect(ownerGroupMode(join(secretsDir, "named"))).toEqual([alice.uid, alice.gid, "0400"]);
    expect(ownerGroupMode(join(runtimeDir, "agenix.d"))).toEqual([alice.uid, alice.gid, "0751"]);
    // A custom path in her home: a symlink that follows every generation; a copy on her tmpfs.
    expect(readlinkSync(join(home, ".config/app/key"))).toBe(join(secretsDir, "app-key"));
    expect(readSecret(join(home, ".config/app/key"))).toBe("app-1");
    expect(ownerGroupMode(join(runtimeDir, "app/copy"))).toEqual([alice.uid, alice.gid, "0600"]);
    expect(readSecret(join(runtimeDir, "app/copy"))).toBe("copy-1");
    // The lock is hers, beside her generations: one per user.
    expect(ownerGroupMode(join(runtimeDir, ".agenix.d.lock"))).toEqual([alice.uid, alice.gid, "0600"]);

    // The same generations as the host's: a new one per run, one previous kept, changes reported.
    writeUserManifest(session, { secrets: { "api-token": { file: encryptForAlice(session, "token-2") } } });
    for (const run of [2, 3]) {
      const again = activateAs(session, alice);
      expect(again.status, again.stderr).toBe(0);
      expect(readlinkSync(secretsDir)).toBe(join(runtimeDir, `agenix.d/${run}`));
    }
    expect(readdirSync(join(runtimeDir, "agenix.d")).filter((name) => /^\d+$/.test(name))).toEqual(["2", "3"]);
    expect(readSecret(join(secretsDir, "api-token"))).toBe("token-2");
    // The custom paths of secrets no longer declared went with them.
    expect(existsSync(join(home, ".config/app/key"))).toBe(false);
    expect(existsSync(join(runtimeDir, "app/copy"))).toBe(false);
  });

  it("cannot be read by another user, whatever their mode", () => {
    const session = newSession();
    writeUserManifest(session, {
      secrets: { private: { file: encryptForAlice(session, "private-1") }, "world-readable": { file: encryptForAlice(session, "loose-1"), mode: "0444" } },
    });
    expect(activateAs(session, alice).status).toBe(0);
    for (const name of ["private", "world-readable"]) {
      const path = join(session.runtimeDir, "agenix", name);
      const asBob = spawnSync("cat", [path], { uid: bob.uid, gid: bob.gid, encoding: "utf8" });
      expect(asBob.status, `bob read ${name}`).not.toBe(0);
      expect(asBob.stderr).toMatch(/Permission denied/);
      expect(asBob.stdout).toBe("");
    }
    // And bob cannot run ageboot for her: her runtime directory is not his.
    const bobRun = activateAs(session, bob);
    expect(bobRun.status).toBe(5);
    expect(bobRun.stderr).toMatch(/\$XDG_RUNTIME_DIR \(.*\): .*cannot open \(EACCES/);
  });

  it("must all be hers: another owner or a group she is not in fails that secret, the others are installed", () => {
    const session = newSession();
    writeUserManifest(session, {
      secrets: {
        mine: { file: encryptForAlice(session, "mine-1") },
        "for-bob": { file: encryptForAlice(session, "bob-1"), owner: bob.name },
        "for-root-group": { file: encryptForAlice(session, "group-1"), group: "0" },
      },
    });
    const result = activateAs(session, alice);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`secret for-bob: owner is uid ${bob.uid}, not you (uid ${alice.uid}): with --user every secret is yours`);
    expect(result.stderr).toContain(`secret for-root-group: group is gid 0, which you (uid ${alice.uid}) are not a member of`);
    expect(readSecret(join(session.runtimeDir, "agenix/mine"))).toBe("mine-1");
    expect(readdirSync(join(session.runtimeDir, "agenix"))).toEqual(["mine"]);
  });
});

describe("a user's own templates", () => {
  it("render from her secrets, which stay hers (staged as hers, 0400, until the templates are rendered)", () => {
    const session = newSession();
    const placeholder = (name: string) => runAgeboot(["placeholder", name]).stdout.trim();
    writeUserManifest(session, {
      secrets: { db: { file: encryptForAlice(session, "db-1"), mode: "0440" } },
      // An absolute path: template paths are not expanded under --user (secrets' are).
      templates: { "app.env": { content: `DB=${placeholder("db")}\n`, path: join(session.home, ".config/app/env") } },
    });
    const result = activateAs(session, alice);
    expect(result.status, result.stderr).toBe(0);
    const secretsDir = join(session.runtimeDir, "agenix");
    expect(readFileSync(join(secretsDir, "rendered/app.env"), "utf8")).toMatch(/^DB=db-1\n/);
    expect(ownerGroupMode(join(secretsDir, "db"))).toEqual([alice.uid, alice.gid, "0440"]);
    expect(ownerGroupMode(join(session.home, ".config/app/env")).slice(0, 2)).toEqual([alice.uid, alice.gid]);
  });
});

describe("a runtime directory that cannot hold plaintext safely is refused, touching nothing", () => {
  it("on a persistent file system, saying how to get a tmpfs", () => {
    const session = newSession();
    const onDisk = join(session.home, "runtime");
    mkdirSync(onDisk, { mode: 0o700 });
    chownSync(onDisk, alice.uid, alice.gid);
    writeUserManifest(session, { secrets: { a: { file: encryptForAlice(session, "a") } } });
    const result = activateAs(session, alice, { XDG_RUNTIME_DIR: onDisk });
    expect(result.status).toBe(5);
    expect(result.stderr).toMatch(/\$XDG_RUNTIME_DIR \(.*\/runtime\) is on .*not on tmpfs or ramfs: decrypted secrets there would be written to a persistent disk/);
    expect(result.stderr).toContain("loginctl enable-linger");
    expect(readdirSync(onDisk)).toEqual([]);
  });

  it("writable by her group, or someone else's", () => {
    const session = newSession();
    writeUserManifest(session, { secrets: { a: { file: encryptForAlice(session, "a") } } });
    const groupWritable = join(session.host.root, "run/user/group-writable");
    mountRuntimeDir(groupWritable, alice.uid, alice.gid, "0770");
    const loose = activateAs(session, alice, { XDG_RUNTIME_DIR: groupWritable });
    expect(loose.status).toBe(5);
    // Refused by the walk itself now (it trusts no group of hers), before the check of the directory's own mode.
    expect(loose.stderr).toContain(`${groupWritable} is writable by group ${alice.gid} (mode 770`);
    expect(readdirSync(groupWritable)).toEqual([]);

    const bobs = join(session.host.root, "run/user/bob");
    mountRuntimeDir(bobs, bob.uid, bob.gid, "0755");
    const foreign = activateAs(session, alice, { XDG_RUNTIME_DIR: bobs });
    expect(foreign.status).toBe(5);
    expect(foreign.stderr).toContain(`belongs to uid ${bob.uid}, which is neither root nor you`);
  });

  it("below a directory writable by a group she is in: refused (another member could swap it), even her primary group", () => {
    // Before, the walk trusted every group of hers: bob, in the same group, could exchange an
    // ancestor with his own directory between the walk and the uses by name (attack F3).
    const session = newSession();
    writeUserManifest(session, { secrets: { a: { file: encryptForAlice(session, "a") } } });
    const sharedDir = join(session.host.root, "shared");
    mkdirSync(sharedDir, { mode: 0o775 });
    chownSync(sharedDir, 0, shared.gid);
    chmodSync(sharedDir, 0o775);
    const runtimeDir = join(sharedDir, "sub/rt");
    mkdirSync(join(sharedDir, "sub"), { mode: 0o755 });
    mountRuntimeDir(runtimeDir, alice.uid, alice.gid);
    const result = runAgeboot(["activate", "--user", "--manifest", session.manifest], {
      asUser: { uid: alice.uid, gid: shared.gid },
      env: { HOME: session.home, XDG_RUNTIME_DIR: runtimeDir },
    });
    expect(result.status, result.stderr).toBe(5);
    expect(result.stderr).toContain(`${sharedDir} is writable by group ${shared.gid}`);
    expect(result.stderr).toContain("activate --user trusts no group on the way to its runtime directory");
    expect(readdirSync(runtimeDir)).toEqual([]);
  });

  it("unset: says where a runtime directory comes from", () => {
    const session = newSession();
    writeUserManifest(session, { secrets: { a: { file: encryptForAlice(session, "a") } } });
    const result = activateAs(session, alice, { XDG_RUNTIME_DIR: "" });
    expect(result.status).toBe(5);
    expect(result.stderr).toContain("XDG_RUNTIME_DIR is not set");
  });

  it("and secrets placed outside it are an invalid manifest", () => {
    const session = newSession();
    writeUserManifest(session, { secretsDir: "~/secrets", secrets: { a: { file: encryptForAlice(session, "a") } } });
    const result = activateAs(session, alice);
    expect(result.status).toBe(4);
    expect(result.stderr).toContain(`secretsDir: with --user it must be inside $XDG_RUNTIME_DIR (${session.runtimeDir})`);
    expect(readdirSync(session.runtimeDir)).toEqual([]);
  });
});

describe("crash consistency of a user's run", () => {
  it("a SIGKILL after every file-system step leaves the old or the new generation whole, and the next run repairs it", () => {
    const session = newSession();
    const secretsDir = join(session.runtimeDir, "agenix");
    const version = (tag: string) => ({
      secrets: {
        "nested/token": { file: encryptForAlice(session, `token-${tag}`), mode: "0440" },
        [`only-${tag}`]: { file: encryptForAlice(session, `only-${tag}`) },
        linked: { file: encryptForAlice(session, `linked-${tag}`), path: "~/.config/app/linked" },
      },
    });
    const [before, after] = [version("a"), version("b")];
    const expected = (tag: string) => ({ "nested/token": `token-${tag}`, [`only-${tag}`]: `only-${tag}`, linked: `linked-${tag}` });
    const complete = (state: Record<string, string>) =>
      Object.entries(state).every(([name, value]) => {
        try {
          return readSecret(join(secretsDir, name)) === value && lstatSync(join(secretsDir, name)).uid === alice.uid;
        } catch {
          return false;
        }
      }) && readdirSync(secretsDir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length === Object.keys(state).length;
    // The state after a run of `before` (made once, by a real run), kept on a tmpfs of root's and copied back before each kill.
    const saved = join(session.host.root, "saved");
    mountRuntimeDir(saved, 0, 0);
    const empty = () => {
      for (const entry of readdirSync(session.runtimeDir)) rmSync(join(session.runtimeDir, entry), { recursive: true, force: true });
    };
    writeUserManifest(session, before);
    expect(activateAs(session, alice).status).toBe(0);
    execFileSync("cp", ["-a", `${session.runtimeDir}/.`, saved]);
    writeUserManifest(session, after);
    const reset = () => {
      empty();
      execFileSync("cp", ["-a", `${saved}/.`, session.runtimeDir]);
    };
    const countFile = join(session.home, "steps.txt");
    reset();
    expect(activateAs(session, alice, { AGEBOOT_TEST_COUNT_STEPS: countFile }).status).toBe(0);
    const steps = readFileSync(countFile, "utf8").trim().split("\n");
    rmSync(countFile);
    expect(steps).toContain("swap symlink");
    process.stderr.write(`user mode: ${steps.length} kill points\n`);
    for (let step = 1; step <= steps.length; step++) {
      reset();
      const killed = activateAs(session, alice, { AGEBOOT_TEST_KILL_AFTER_STEP: String(step) });
      expect(killed.signal, `step ${step} (${steps[step - 1]})`).toBe("SIGKILL");
      const seen = complete(expected("a")) ? "a" : complete(expected("b")) ? "b" : null;
      expect(seen, `after a kill at step ${step} (${steps[step - 1]}) ${secretsDir} is no complete generation`).not.toBeNull();
      const next = activateAs(session, alice);
      expect(next.status, `run after a kill at step ${step}: ${next.stderr}`).toBe(0);
      expect(complete(expected("b"))).toBe(true);
      expect(readSecret(join(session.home, ".config/app/linked"))).toBe("linked-b");
      expect(readdirSync(join(session.runtimeDir, "agenix.d")).filter((name) => /^\d+$/.test(name)).length).toBeLessThanOrEqual(2);
      expect(readdirSync(session.runtimeDir).filter((name) => name.includes(".ageboot-"))).toEqual([]);
    }
  }, 300_000);
});
