import { chownSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { whileUserExists } from "../helpers/user-created-later.js";

beforeAll(requirePrivateNamespace);

const { alice } = TEST_USERS;
const newHost = hostPerTest();

describe("ageboot chown and symlink: false copies", () => {
  it("a root-owned file the owner moved to the copy's name stays root's, untouched", () => {
    const host = newHost();
    const home = join(host.root, "home/alice");
    mkdirSync(home, { recursive: true });
    chownSync(home, alice.uid, alice.gid);
    const copy = join(home, "token");
    host.writeManifest({ token: { file: host.encrypt("alice-token"), owner: alice.name, mode: "0400", path: copy, symlink: false } });
    expect(host.activate().status).toBe(0);
    expect(statSync(copy).uid).toBe(alice.uid);

    // What alice can do in her own directory: put a root-owned file (moved in from
    // wherever she could move it) at the copy's name.
    const planted = join(home, "planted");
    writeFileSync(planted, "root's data\n", { mode: 0o600 });
    renameSync(planted, copy);
    expect(statSync(copy).uid).toBe(0);

    const result = runAgeboot(["chown", "--manifest", host.manifestPath]);
    expect(result.status, result.stderr).toBe(0);
    const after = statSync(copy);
    expect([after.uid, after.gid, after.mode & 0o7777]).toEqual([0, 0, 0o600]);
    expect(readFileSync(copy, "utf8")).toBe("root's data\n");
  });

  it("a deferred copy is written anew with its final owner, never chowned in place", () => {
    const host = newHost();
    const copy = join(host.root, "etc/app/token");
    const carol = { name: "agetest-carol", uid: 4103, gid: 4103 };
    host.writeManifest({ token: { file: host.encrypt("carol-token"), owner: carol.name, mode: "0440", path: copy, symlink: false } });
    // Before carol exists: the secret and its copy are root's 0400.
    expect(runAgeboot(["activate", "--manifest", host.manifestPath, "--defer-unknown-owners"]).status).toBe(0);
    const deferred = statSync(copy);
    expect([deferred.uid, deferred.gid, deferred.mode & 0o7777]).toEqual([0, 0, 0o400]);

    // Then carol is created, as NixOS's users step would.
    const result = whileUserExists(host.root, carol, () => runAgeboot(["chown", "--manifest", host.manifestPath]));
    expect(result.status, result.stderr).toBe(0);
    const final = statSync(copy);
    expect([final.uid, final.gid, final.mode & 0o7777]).toEqual([carol.uid, carol.gid, 0o440]);
    expect(final.ino).not.toBe(deferred.ino); // a new file, renamed over the name
    expect(TestHost.stripCanary(readFileSync(copy, "utf8"), "copy")).toBe("carol-token");
  });
});
