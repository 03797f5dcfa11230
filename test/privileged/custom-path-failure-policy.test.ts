// The failure policy for custom paths (issue 12, item 2): a custom path that
// cannot be installed (something a local user put in the way) does not stop
// the other secrets from rotating. The secret itself rotates in the new
// generation, its custom path keeps what it held, and the run names it and
// exits 7 (EXIT.PATHS_FAILED), which units count as success, so that a local
// user cannot fail the unit and every unit that Requires= it; any failed
// secret still makes it exit 1.
import { chownSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TestHost } from "../helpers/host.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

const { alice, bob } = TEST_USERS;
const newHost = hostPerTest();

/** A host whose alice has a home of her own, with a copy and a link of her secrets in it. */
function hostWithAlicesHome() {
  const host = newHost();
  const home = join(host.root, "home/alice");
  mkdirSync(home, { recursive: true });
  chownSync(home, alice.uid, alice.gid);
  const copy = join(home, "copy");
  const link = join(home, "link");
  const secrets = (tag: string) => ({
    plain: { file: host.encrypt(`plain-${tag}`) },
    copied: { file: host.encrypt(`copied-${tag}`), path: copy, symlink: false, owner: alice.name },
    linked: { file: host.encrypt(`linked-${tag}`), path: link, owner: alice.name },
  });
  return { host, home, copy, link, secrets };
}

const content = (path: string) => TestHost.stripCanary(readFileSync(path, "utf8"), path);

describe("a custom path that cannot be installed", () => {
  it("does not hold back the rotation of the other secrets, nor of its own secret", () => {
    const { host, copy, link, secrets } = hostWithAlicesHome();
    host.writeManifest(secrets("1"));
    expect(host.activate().status).toBe(0);
    // Alice puts a directory where her copy was: ageboot does not delete directories.
    rmSync(copy);
    mkdirSync(join(copy, "mine"), { recursive: true });
    host.writeManifest(secrets("2"));
    const result = host.activate();
    expect(result.status).toBe(7);
    expect(result.stderr).toContain(`secret copied: path ${copy} is a directory; ageboot does not delete directories`);
    expect(result.stderr).toContain("its custom path keeps what it held");
    expect(result.stderr).toContain("generation 2 is current: 0 added, 3 changed, 0 removed, 0 unchanged, 0 failed; 1 custom path not installed");
    expect(readlinkSync(host.secretsDir)).toBe(`${host.mountPoint}/2`);
    expect([host.read("plain"), host.read("copied"), host.read("linked")]).toEqual(["plain-2", "copied-2", "linked-2"]);
    expect(content(link)).toBe("linked-2");
    expect(lstatSync(join(copy, "mine")).isDirectory()).toBe(true);
  });

  it("a path moved into a directory of another user: refused, the rest rotates, the old copy stays as it was", () => {
    const { host, copy, secrets } = hostWithAlicesHome();
    host.writeManifest(secrets("1"));
    expect(host.activate().status).toBe(0);
    const bobs = join(host.root, "home/bob");
    mkdirSync(bobs, { recursive: true });
    chownSync(bobs, bob.uid, bob.gid);
    const moved = { ...secrets("2"), elsewhere: { file: host.encrypt("elsewhere-2"), path: join(bobs, "alice-secret"), owner: alice.name, symlink: false } };
    host.writeManifest(moved);
    const result = host.activate();
    expect(result.status).toBe(7);
    expect(result.stderr).toContain(`secret elsewhere: path ${join(bobs, "alice-secret")}: ${bobs} belongs to uid ${bob.uid}`);
    expect(host.read("elsewhere")).toBe("elsewhere-2");
    expect(host.read("plain")).toBe("plain-2");
    expect(content(copy)).toBe("copied-2");
    expect(readdirSync(bobs), "nothing is written for alice under bob's directory").toEqual([]);
  });

  it("a symlink a user plants on the way to their own secret's path: exit 7, not 1, every secret installed, nothing written through it", () => {
    const { host, home, secrets } = hostWithAlicesHome();
    const app = join(home, "app");
    mkdirSync(app);
    chownSync(app, alice.uid, alice.gid);
    const etc = join(host.root, "etc-stand-in");
    mkdirSync(etc);
    const withToken = (tag: string) => ({ ...secrets(tag), token: { file: host.encrypt(`token-${tag}`), path: join(app, "token"), owner: alice.name } });
    host.writeManifest(withToken("1"));
    expect(host.activate().status).toBe(0);
    // What alice can do in her own home (as the attacker's pathfail-exit.sh): her app directory becomes a symlink.
    renameSync(app, `${app}.old`);
    symlinkSync(etc, app);
    lchownSync(app, alice.uid, alice.gid);
    host.writeManifest(withToken("2"));
    const result = host.activate();
    expect(result.status, result.stderr).toBe(7);
    expect(result.stderr).toContain("secret token: path");
    expect(result.stderr).toContain("1 custom path not installed");
    expect(readlinkSync(host.secretsDir)).toBe(`${host.mountPoint}/2`);
    expect([host.read("plain"), host.read("token")]).toEqual(["plain-2", "token-2"]);
    expect(readdirSync(etc)).toEqual([]);
  });

  it("a failed secret and a failed custom path (the first run, which installs what it can): exit 1, the secret's status wins", () => {
    const { host, copy, secrets } = hostWithAlicesHome();
    mkdirSync(copy);
    const broken = join(host.root, "broken.age");
    writeFileSync(broken, "age-encryption.org/v1\n-> X25519 not-a-key\n--- AAAA\n");
    host.writeManifest({ ...secrets("1"), broken: { file: broken } });
    const result = host.activate();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`path ${copy} is a directory`);
    expect(host.read("plain")).toBe("plain-1");
  });

  it("a secret that fails to decrypt still keeps the whole current generation (the transaction)", () => {
    const { host, secrets } = hostWithAlicesHome();
    host.writeManifest(secrets("1"));
    expect(host.activate().status).toBe(0);
    const broken = join(host.root, "broken.age");
    writeFileSync(broken, "age-encryption.org/v1\n-> X25519 not-a-key\n--- AAAA\n");
    host.writeManifest({ ...secrets("2"), broken: { file: broken } });
    const result = host.activate();
    expect(result.status).toBe(1);
    expect(readlinkSync(host.secretsDir)).toBe(`${host.mountPoint}/1`);
    expect(host.read("plain")).toBe("plain-1");
  });
});
