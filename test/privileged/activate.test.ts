// `ageboot activate` on real mounts (ramfs, tmpfs) in a private mount namespace,
// with real chown to users that exist in that namespace's /etc/passwd.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mountedFilesystemAt } from "../../src/activation/mount.js";
import { startAgeboot } from "../helpers/ageboot-process.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_GROUPS, TEST_USERS } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

const newHost = hostPerTest();

function ownerGroupMode(path: string): [number, number, string] {
  const info = lstatSync(path);
  return [info.uid, info.gid, (info.mode & 0o7777).toString(8).padStart(4, "0")];
}

function generationsOf(host: TestHost): number[] {
  return readdirSync(host.mountPoint)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

function currentOf(host: TestHost): string {
  return readlinkSync(host.secretsDir);
}

const { alice, bob } = TEST_USERS;
const keysGid = TEST_GROUPS.keys.gid;

describe("first activation", () => {
  it("mounts a tmpfs (noswap; secrets-mount.test.ts: the ramfs fallback) and installs every secret with its owner, group and mode", async () => {
    const host = newHost();
    host.writeManifest({
      "db-password": { file: host.encrypt("db-pass-1"), owner: alice.name, mode: "0400" },
      "shared-token": { file: host.encrypt("token-1"), owner: alice.name, group: TEST_GROUPS.shared.name, mode: "0440" },
      numeric: { file: host.encrypt("numeric-1"), owner: bob.uid, group: 4242, mode: "0600" },
      "root-default": { file: host.encrypt("root-1") },
      "nested/dir/cert": { file: host.encrypt("cert-1"), owner: bob.name, mode: "0444" },
    });
    const result = host.activate();
    expect(result.stderr).toContain("generation 1 is current: 5 added");
    expect(result.status).toBe(0);

    expect(mountedFilesystemAt(host.mountPoint)).toBe("tmpfs");
    const mountLine = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .find((line) => line.split(" ")[4] === host.mountPoint)!;
    expect(mountLine).toMatch(/nosuid/);
    expect(mountLine).toMatch(/nodev/);
    expect(ownerGroupMode(host.mountPoint)).toEqual([0, keysGid, "0751"]);
    expect(currentOf(host)).toBe(`${host.mountPoint}/1`);
    expect(ownerGroupMode(`${host.mountPoint}/1`)).toEqual([0, keysGid, "0751"]);
    expect(ownerGroupMode(`${host.mountPoint}/1/nested`)).toEqual([0, keysGid, "0751"]);
    expect(ownerGroupMode(`${host.mountPoint}/1/nested/dir`)).toEqual([0, keysGid, "0751"]);

    const files = `${host.mountPoint}/1`;
    expect(ownerGroupMode(`${files}/db-password`)).toEqual([alice.uid, alice.gid, "0400"]);
    expect(ownerGroupMode(`${files}/shared-token`)).toEqual([alice.uid, TEST_GROUPS.shared.gid, "0440"]);
    expect(ownerGroupMode(`${files}/numeric`)).toEqual([bob.uid, 4242, "0600"]);
    expect(ownerGroupMode(`${files}/root-default`)).toEqual([0, 0, "0400"]);
    expect(ownerGroupMode(`${files}/nested/dir/cert`)).toEqual([bob.uid, bob.gid, "0444"]);
    expect(host.read("db-password")).toBe("db-pass-1");
    expect(host.read("nested/dir/cert")).toBe("cert-1");
  });

  it("accepts an existing tmpfs at the mount point instead of mounting over it", async () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", host.mountPoint]);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    expect(host.activate().status).toBe(0);
    expect(mountedFilesystemAt(host.mountPoint)).toBe("tmpfs");
    expect(
      readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .filter((line) => line.split(" ")[4] === host.mountPoint),
    ).toHaveLength(1);
    expect(ownerGroupMode(host.mountPoint)).toEqual([0, keysGid, "0751"]);
  });

  it("refuses a mount point that is another file system, and touches nothing", () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    // A bind mount of an ordinary directory stands for a disk file system.
    const disk = join(host.root, "disk");
    mkdirSync(disk);
    execFileSync("mount", ["--bind", disk, host.mountPoint]);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(5);
    expect(result.stderr).toMatch(/refusing to write plaintext anywhere but ramfs or tmpfs/);
    expect(readdirSync(disk)).toEqual([]);
    expect(existsSync(host.secretsDir)).toBe(false);
  });

  it("installs the secrets that decrypt when nothing is current yet, and still fails", () => {
    const host = newHost();
    const otherKey = join(host.root, "other.pub");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(host.root, "other")]);
    host.writeManifest({
      good: { file: host.encrypt("good-1"), owner: alice.name },
      "wrong-key": { file: host.encrypt("wrong", otherKey) },
      "missing-file": { file: join(host.root, "nope.age") },
      "unknown-owner": { file: host.encrypt("x"), owner: "no-such-user" },
      "unknown-group": { file: host.encrypt("x"), group: "no-such-group" },
    });
    const result = host.activate();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/secret wrong-key: .*no identity matches/);
    expect(result.stderr).toMatch(/secret missing-file: file .*nope\.age: does not exist/);
    expect(result.stderr).toContain('secret unknown-owner: owner "no-such-user" does not exist');
    expect(result.stderr).toContain('secret unknown-group: group "no-such-group" does not exist');
    expect(result.stderr).toContain("generation 1 is current: 1 added");
    expect(host.read("good")).toBe("good-1");
    expect(readdirSync(host.secretsDir)).toEqual(["good"]);
  });
});

describe("later activations", () => {
  it("number generations 1 + the highest, keep keepGenerations previous ones, and report changes", () => {
    const host = newHost();
    host.keepGenerations = 2;
    for (let run = 1; run <= 8; run++) {
      const secrets: Record<string, { file: string }> = { stable: { file: host.encrypt("same") }, rotating: { file: host.encrypt(`value-${run}`) } };
      if (run % 2 === 1) secrets["sometimes"] = { file: host.encrypt("here") };
      host.writeManifest(secrets);
      const result = host.activate();
      expect(result.status, result.stderr).toBe(0);
      expect(currentOf(host)).toBe(`${host.mountPoint}/${run}`);
      expect(generationsOf(host)).toEqual([run - 2, run - 1, run].filter((generation) => generation >= 1));
      expect(host.read("rotating")).toBe(`value-${run}`);
      if (run > 1) {
        expect(result.stderr).toMatch(run % 2 === 1 ? /1 added, 1 changed, 0 removed, 1 unchanged/ : /0 added, 1 changed, 1 removed, 1 unchanged/);
      }
    }
  });

  it("keepGenerations 0 keeps only the current generation", () => {
    const host = newHost();
    host.keepGenerations = 0;
    for (let run = 1; run <= 3; run++) {
      host.writeManifest({ a: { file: host.encrypt(`a${run}`) } });
      expect(host.activate().status).toBe(0);
    }
    expect(generationsOf(host)).toEqual([3]);
  });

  it('keepGenerations "all" never prunes (sops-nix\'s keepGenerations = 0)', () => {
    const host = newHost();
    host.keepGenerations = "all";
    for (let run = 1; run <= 4; run++) {
      host.writeManifest({ a: { file: host.encrypt(`a${run}`) } });
      expect(host.activate().status).toBe(0);
    }
    expect(generationsOf(host)).toEqual([1, 2, 3, 4]);
    expect(host.read("a")).toBe("a4");
  });

  it("a failing secret leaves the current generation untouched, and the next good run installs", () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a1"), owner: alice.name }, b: { file: host.encrypt("b1") } });
    expect(host.activate().status).toBe(0);
    const before = { a: ownerGroupMode(`${host.secretsDir}/a`), generations: generationsOf(host) };

    const corrupt = host.encrypt("b2");
    const bytes = readFileSync(corrupt);
    bytes[bytes.length - 3]! ^= 0x55;
    writeFileSync(corrupt, bytes);
    host.writeManifest({ a: { file: host.encrypt("a2"), owner: bob.name }, b: { file: corrupt }, c: { file: host.encrypt("c2") } });
    const failed = host.activate();
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/secret b: .*payload does not authenticate/);
    expect(failed.stderr).toContain("nothing changed, generation 1 stays current");
    expect(currentOf(host)).toBe(`${host.mountPoint}/1`);
    expect(host.read("a")).toBe("a1");
    expect(ownerGroupMode(`${host.secretsDir}/a`)).toEqual(before.a);
    expect(existsSync(`${host.secretsDir}/c`)).toBe(false);
    expect(generationsOf(host)).toEqual(before.generations);

    host.writeManifest({ a: { file: host.encrypt("a3") }, c: { file: host.encrypt("c3") } });
    const fixed = host.activate();
    expect(fixed.status).toBe(0);
    // The failed run's generation 2 was removed, so 2 is again 1 + the highest.
    expect(currentOf(host)).toBe(`${host.mountPoint}/2`);
    expect([host.read("a"), host.read("c")]).toEqual(["a3", "c3"]);
  });

  it("removes generations left by a crashed run, and never the current one", () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a1") } });
    expect(host.activate().status).toBe(0);
    // What a run killed mid-staging leaves behind: a higher, incomplete generation.
    mkdirSync(`${host.mountPoint}/2/sub`, { recursive: true });
    writeFileSync(`${host.mountPoint}/2/sub/partial`, "half");
    expect(host.activate().status).toBe(0);
    expect(currentOf(host)).toBe(`${host.mountPoint}/3`);
    expect(generationsOf(host)).toEqual([1, 3]);
  });
});

describe("many secrets (staged on two threads)", () => {
  it("300 secrets with mixed owners and modes, and a broken one among the second thread's share", () => {
    const host = newHost();
    const values = Array.from({ length: 300 }, (_, i) => `value-${i}`);
    const owners = [alice, bob];
    const secrets = Object.fromEntries(values.map((value, i) => [`dir${i % 7}/s${i}`, { file: host.encrypt(value), owner: owners[i % 2]!.name, mode: i % 3 ? "0400" : "0440" }]));
    host.writeManifest(secrets);
    const first = host.activate();
    expect(first.status, first.stderr).toBe(0);
    values.forEach((value, i) => {
      expect(host.read(`dir${i % 7}/s${i}`)).toBe(value);
      expect(ownerGroupMode(`${host.secretsDir}/dir${i % 7}/s${i}`)).toEqual([owners[i % 2]!.uid, owners[i % 2]!.gid, i % 3 ? "0400" : "0440"]);
    });

    // The last secrets go to the worker thread: break one there.
    const broken = host.encrypt("broken");
    writeFileSync(broken, readFileSync(broken).subarray(0, 150));
    host.writeManifest({ ...secrets, "dir1/s295": { file: broken } });
    const failed = host.activate();
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/secret dir1\/s295: .*code=MALFORMED/);
    expect(currentOf(host)).toBe(`${host.mountPoint}/1`);
    expect(host.read("dir1/s295")).toBe("value-295");
  }, 120_000);
});

describe("what stands in the way", () => {
  it("a real directory at secretsDir is reported, not deleted (agenix#291)", () => {
    const host = newHost();
    mkdirSync(host.secretsDir, { recursive: true });
    writeFileSync(join(host.secretsDir, "precious"), "keep me");
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(5);
    expect(result.stderr).toContain(`${host.secretsDir} is a real directory; it must be a symlink that ageboot manages`);
    expect(readFileSync(join(host.secretsDir, "precious"), "utf8")).toBe("keep me");
  });

  it.each([
    ["a tmpfs too small for the new generation keeps the previous one", "64k", 256 * 1024],
    // Over 4 MiB: src/activation/pipelined-writer.ts writes it, and the mount fills in the middle.
    ["a large secret (written while it is decrypted) on a full tmpfs: ENOSPC named, no partial file, the previous generation kept", "6m", 8 * 1024 * 1024],
  ])("%s", (_, tmpfsSize, bigSize) => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${tmpfsSize}`, "tmpfs", host.mountPoint]);
    host.writeManifest({ small: { file: host.encrypt("small-1") } });
    expect(host.activate().status).toBe(0);
    host.writeManifest({ small: { file: host.encrypt("small-2") }, big: { file: host.encrypt(Buffer.alloc(bigSize, "x")) } });
    const result = host.activate();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/secret big: .*the secrets mount is full \(ENOSPC\)/);
    expect(currentOf(host)).toBe(`${host.mountPoint}/1`);
    expect(host.read("small")).toBe("small-1");
    expect(generationsOf(host)).toEqual([1]);
  });

  it("a missing identity path is a warning; no usable identity at all fails before touching anything", () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const warned = host.activate();
    expect(warned.status).toBe(0);
    expect(warned.stderr).toMatch(/persist\/etc\/ssh\/ssh_host_ed25519_key: identity file does not exist, skipped/);

    const bare = newHost();
    bare.writeManifest({ a: { file: bare.encrypt("a") } }, { identityPaths: [join(bare.root, "none")] });
    const result = bare.activate();
    expect(result.status).toBe(3);
    expect(existsSync(bare.mountPoint)).toBe(false);
  });

  it("an invalid manifest changes nothing and exits 4", () => {
    const host = newHost();
    host.writeManifest({ "../escape": { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('secret "../escape": invalid name: contains ".."');
    expect(existsSync(host.mountPoint)).toBe(false);
  });
});

describe("custom paths", () => {
  it("symlink: true links path to secretsDir/<name>, replacing a file or link atomically", () => {
    const host = newHost();
    const path = join(host.root, "etc/app/token");
    mkdirSync(join(host.root, "etc/app"), { recursive: true });
    writeFileSync(path, "old file");
    host.writeManifest({ token: { file: host.encrypt("t1"), path, owner: alice.name } });
    expect(host.activate().status).toBe(0);
    expect(readlinkSync(path)).toBe(`${host.secretsDir}/token`);
    expect(TestHost.stripCanary(readFileSync(path, "utf8"), path)).toBe("t1");
    host.writeManifest({ token: { file: host.encrypt("t2"), path, owner: alice.name } });
    expect(host.activate().status).toBe(0);
    expect(TestHost.stripCanary(readFileSync(path, "utf8"), path)).toBe("t2");
    expect(readdirSync(join(host.root, "etc/app"))).toEqual(["token"]); // no temporaries left
  });

  it("symlink: false writes a copy with owner and mode, and says it is not on memory", () => {
    const host = newHost();
    const path = join(host.root, "var/lib/app/password");
    host.writeManifest({ password: { file: host.encrypt("p1"), path, symlink: false, owner: bob.name, mode: "0440" } });
    const result = host.activate();
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`secret password: writing a plaintext copy to ${path}, which is NOT on a memory-backed file system`);
    expect(lstatSync(path).isFile()).toBe(true);
    expect(ownerGroupMode(path)).toEqual([bob.uid, bob.gid, "0440"]);
    expect(TestHost.stripCanary(readFileSync(path, "utf8"), path)).toBe("p1");
  });

  it("a real directory at a custom path is an error, not something to delete", () => {
    const host = newHost();
    const path = join(host.root, "etc/app/conf.d");
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, "keep"), "x");
    host.writeManifest({ conf: { file: host.encrypt("c"), path }, other: { file: host.encrypt("o") } });
    const result = host.activate();
    expect(result.status).toBe(7);
    expect(result.stderr).toContain(`secret conf: path ${path} is a directory; ageboot does not delete directories`);
    expect(readFileSync(join(path, "keep"), "utf8")).toBe("x");
  });

  it("a symlink planted at the final path is replaced, never followed", () => {
    const host = newHost();
    const victim = join(host.root, "victim");
    writeFileSync(victim, "victim content");
    const path = join(host.root, "home/alice/secret");
    mkdirSync(join(host.root, "home/alice"), { recursive: true });
    symlinkSync(victim, path);
    host.writeManifest({ copy: { file: host.encrypt("plaintext"), path, symlink: false } });
    expect(host.activate().status).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("victim content");
    expect(lstatSync(path).isFile()).toBe(true);
  });

  it("a symlink planted in a directory a user can write to is refused", () => {
    const host = newHost();
    const userDir = join(host.root, "home/alice");
    mkdirSync(userDir, { recursive: true });
    execFileSync("chown", [`${alice.uid}:${alice.gid}`, userDir]);
    const elsewhere = join(host.root, "etc-shadow-dir");
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(userDir, "app"));
    host.writeManifest({ copy: { file: host.encrypt("plaintext"), path: join(userDir, "app/secret"), symlink: false } });
    const result = host.activate();
    expect(result.status).toBe(7);
    expect(result.stderr).toContain(`${join(userDir, "app")} is a symlink in ${userDir}, which a user other than root can write to`);
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

describe("dry run", () => {
  it("decrypts and reports, touching nothing", () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a1") } });
    const first = host.activate("--dry-run");
    expect(first.status).toBe(0);
    expect(first.stderr).toContain("dry run: would install 1 added");
    expect(existsSync(host.mountPoint)).toBe(false);
    expect(existsSync(host.secretsDir)).toBe(false);
    expect(host.activate().status).toBe(0);
    host.writeManifest({ a: { file: host.encrypt("a2") }, b: { file: host.encrypt("b") } });
    const second = host.activate("--dry-run");
    expect(second.stderr).toContain("dry run: would install 1 added, 1 changed, 0 removed, 0 unchanged");
    expect(host.read("a")).toBe("a1");
    expect(generationsOf(host)).toEqual([1]);
  });
});

describe("concurrency", () => {
  it("runs at the same time are serialised and each ends with a complete generation", async () => {
    const host = newHost();
    host.writeManifest(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`s${i}`, { file: host.encrypt(`value-${i}`) }])));
    const runs = await Promise.all(Array.from({ length: 4 }, () => activateAsync(host)));
    expect(runs).toEqual([0, 0, 0, 0]);
    expect(currentOf(host)).toBe(`${host.mountPoint}/4`);
    expect(generationsOf(host)).toEqual([3, 4]);
    for (let i = 0; i < 20; i++) expect(host.read(`s${i}`)).toBe(`value-${i}`);
  });

  it("a lock held by a process that was killed is recovered at once", () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const lockFile = join(host.root, "run/.agenix.d.lock");
    mkdirSync(join(host.root, "run"), { recursive: true });
    // flock holds the lock through its child (sleep): its own process group, so
    // that the whole holder, and nothing else on the machine, can be killed.
    const holder = spawn("flock", [lockFile, "sleep", "600"], { stdio: "ignore", detached: true });
    waitFor(() => spawnSync("flock", ["--nonblock", lockFile, "true"]).status !== 0);
    const blocked = host.activate("--lock-timeout", "1");
    expect(blocked.status).toBe(5);
    expect(blocked.stderr).toContain("another ageboot run held the lock for 1 s");
    process.kill(-holder.pid!, "SIGKILL");
    waitFor(() => spawnSync("flock", ["--nonblock", lockFile, "true"]).status === 0);
    expect(host.activate("--lock-timeout", "5").status).toBe(0);
  });
});

async function activateAsync(host: TestHost): Promise<number | null> {
  return (await startAgeboot(["activate", "--manifest", host.manifestPath]).exited).status;
}

function waitFor(condition: () => boolean): void {
  for (let tries = 0; tries < 200 && !condition(); tries++) spawnSync("sleep", ["0.05"]);
  expect(condition()).toBe(true);
}
