// What a `symlink: false` copy is made from (security.md, the copy surface).
// A secret's owner owns her file in the generation: once it is hers she can
// chmod u+w and truncate -s 1T it (sparse, no space used on the secrets mount).
// Before the fix, step 6 read that file by name, after it was handed over, and
// copied whatever it held, a terabyte of zeros into the custom path's file
// system; `ageboot chown` did the same right after its fchown. Now the copy is
// made from a descriptor of a file that is still root's, of exactly the size
// staging wrote. These tests act as alice at the one moment that matters (the
// log line ageboot writes right before it copies), deterministically, in process.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { activate } from "../../src/activate.js";
import { applyOwnership } from "../../src/activation/apply-ownership.js";
import type { Logger } from "../../src/log.js";
import { loadManifest } from "../../src/manifest/load.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { accountFilesWith } from "../helpers/user-created-later.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const newHost = hostPerTest();
/** What alice grows her file to: sparse, so it costs nothing where it is; a copy of it would be written in full. */
const GROWN = 64 * 1024 * 1024;

const mounted: string[] = [];
afterEach(() => {
  for (const target of mounted.splice(0)) spawnSync("umount", [target]);
});

/** A tmpfs of `size` at `target`, owned by `uid`: the custom path's own file system. */
function tmpfsAt(target: string, size: string, uid: number): void {
  mkdirSync(target, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700,uid=${uid},gid=${uid}`, "copy-fs", target]);
  mounted.push(target);
}

/** A logger that calls `onCopy` synchronously when ageboot says it is about to write a copy, and keeps every line. */
function loggerWithHook(onCopy: () => void): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = {
    write(line: string) {
      lines.push(line);
      if (line.includes("writing a copy to")) onCopy();
    },
  };
  return { log: pino({ level: "info" }, destination) as Logger, lines };
}

describe("the source of a symlink: false copy", () => {
  it("activate: the generation's file is still root's when copied, and the copy holds exactly what was staged", async () => {
    const host = newHost();
    chmodSync(host.root, 0o755);
    const home = join(host.root, "alice");
    tmpfsAt(home, "16m", alice.uid);
    const copy = join(home, "copy");
    host.writeManifest({ token: { file: host.encrypt("alice-token"), owner: alice.name, mode: "0400", path: copy, symlink: false } });
    const manifest = await loadManifest(host.manifestPath);
    expect((await activate(manifest, { log: pino({ level: "silent" }) })).installed).toBe(true);
    const staged = statSync(join(host.secretsDir, "token")).size;

    // The next run: at the moment of the copy, alice grows her file if it is hers.
    const owners: number[] = [];
    const { log } = loggerWithHook(() => {
      const file = join(host.mountPoint, "2", "token");
      const { uid } = statSync(file);
      owners.push(uid);
      if (uid === alice.uid) {
        chmodSync(file, 0o600);
        truncateSync(file, GROWN);
      }
    });
    const result = await activate(manifest, { log });
    expect(result.installed).toBe(true);
    expect(owners).toEqual([0]);
    expect(statSync(copy).size).toBe(staged);
    expect(readFileSync(copy)).toEqual(readFileSync(join(host.secretsDir, "token")));
    // And it is handed over afterwards, as declared.
    const info = statSync(join(host.secretsDir, "token"));
    expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([alice.uid, alice.gid, 0o400]);
  });

  it("ageboot chown: a file grown after the fchown is not copied; the path fails, named, and keeps what it held", async () => {
    const host = newHost();
    chmodSync(host.root, 0o755);
    const carol = { name: "agetest-carol", uid: 4103, gid: 4103 };
    const home = join(host.root, "carol");
    tmpfsAt(home, "16m", 0);
    const copy = join(home, "copy");
    host.writeManifest({ token: { file: host.encrypt("carol-token"), owner: carol.name, mode: "0400", path: copy, symlink: false } });
    const manifest = await loadManifest(host.manifestPath);
    expect((await activate(manifest, { log: pino({ level: "silent" }), deferUnknownOwners: true })).installed).toBe(true);
    chownSync(home, carol.uid, carol.gid);
    const before = readFileSync(copy);

    const file = join(host.secretsDir, "token");
    const { log } = loggerWithHook(() => {
      // carol, right after `ageboot chown` gave her the file.
      if (statSync(file).uid === carol.uid) {
        chmodSync(file, 0o600);
        truncateSync(file, GROWN);
      }
    });
    // carol exists now (as NixOS's users step makes her): her account files bound over /etc, in this private namespace.
    const { passwd, group } = accountFilesWith(host.root, carol);
    execFileSync("mount", ["--bind", passwd, "/etc/passwd"]);
    mounted.push("/etc/passwd");
    execFileSync("mount", ["--bind", group, "/etc/group"]);
    mounted.push("/etc/group");
    const result = await applyOwnership(manifest, log, 10);
    expect(result.failures.map((failure) => failure.message)).toEqual([expect.stringMatching(new RegExp(`path ${copy}: .*not the file staging wrote`))]);
    expect(statSync(copy).size).toBe(before.length);
    expect(readFileSync(copy)).toEqual(before);
  });

  it("a full custom path's file system is named as such, not as the secrets mount", async () => {
    const host = newHost();
    const target = join(host.root, "small");
    tmpfsAt(target, "16k", 0);
    const copy = join(target, "copy");
    host.writeManifest({ big: { file: host.encrypt(Buffer.alloc(256 * 1024, 0x61)), path: copy, symlink: false } });
    const manifest = await loadManifest(host.manifestPath);
    const result = await activate(manifest, { log: pino({ level: "silent" }) });
    const big = result.outcomes.find((outcome) => outcome.name === "big")!;
    expect(big.failed).toBeNull();
    expect(big.pathFailed?.message).toMatch(new RegExp(`path ${copy}: .*the file system of ${copy} is full \\(ENOSPC\\)`));
    expect(big.pathFailed?.message).not.toMatch(/secrets mount/);
  });
});
