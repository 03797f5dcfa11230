// Forbidden and reserved custom paths reached through an alias (issue 22, item 5):
// validation compares paths as strings, so `/var/run/agenix.d/1/x` (with
// `/var/run -> /run`) and `/var/run/agenix/y` (secretsDir through the alias)
// pass it. The walk that writes a custom path compares the directories it holds
// by descriptor with the places' identities (src/activation/forbidden-places.ts):
// the alias is refused like the place, and nothing is created on the way. Before,
// a root 0400 file landed in the live generation, and the secretsDir alias made
// a real directory where the secretsDir link belongs (the first boot then
// installed nothing: EISDIR).
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";

beforeAll(requirePrivateNamespace);

const newHost = hostPerTest();

/** A host with `var/run -> ../run`, as on every systemd host. */
function hostWithVarRunAlias() {
  const host = newHost();
  mkdirSync(join(host.root, "var"), { recursive: true });
  mkdirSync(join(host.root, "run"), { recursive: true });
  symlinkSync("../run", join(host.root, "var/run"));
  return host;
}

describe("a custom path through an alias of a reserved place", () => {
  it.each([
    ["the mount point (a file in the live generation)", "var/run/agenix.d/1/x", "secretsMountPoint"],
    ["secretsDir, before its link exists (first boot)", "var/run/agenix/y", "secretsDir"],
    ["the lock file beside the mount point", "var/run/.agenix.d.lock", "the lock file of secretsMountPoint"],
  ])("%s is refused like the place itself, and every other secret is installed", (_, aliasPath, place) => {
    const host = hostWithVarRunAlias();
    const path = join(host.root, aliasPath);
    host.writeManifest({ kept: { file: host.encrypt("kept") }, aliased: { file: host.encrypt("aliased"), path } });
    const result = host.activate();
    // A path failure: reported, the run non-zero, the secrets installed (./failure-policy.ts).
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("through an alias");
    expect(result.stderr).toContain(place);
    expect(host.read("kept")).toBe("kept");
    expect(host.read("aliased")).toBe("aliased");
    // secretsDir is the link ageboot makes, never a directory the custom path made.
    expect(lstatSync(host.secretsDir).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(host.mountPoint, "1")).sort()).toEqual(["aliased", "kept"]);
    expect(existsSync(join(host.root, "run/agenix/y"))).toBe(false);

    // And the next run (a generation is current now) is refused the same way, changing nothing it must not.
    const again = host.activate();
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain("through an alias");
    expect(lstatSync(host.secretsDir).isSymbolicLink()).toBe(true);
    expect(host.read("kept")).toBe("kept");
  });

  it("a bind mount of the host key's directory is refused like the directory (compared by identity, not by name)", () => {
    const host = newHost();
    const mirror = join(host.root, "mnt/ssh");
    mkdirSync(mirror, { recursive: true });
    execFileSync("mount", ["--bind", join(host.root, "etc/ssh"), mirror]);
    try {
      host.writeManifest({ kept: { file: host.encrypt("kept") }, aliased: { file: host.encrypt("aliased"), path: join(mirror, "ssh_host_ed25519_key") } });
      const result = host.activate();
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain("an identity path");
      expect(lstatSync(host.key).isFile()).toBe(true);
      expect(host.read("kept")).toBe("kept");
    } finally {
      execFileSync("umount", [mirror]);
    }
  });

  it("a symlink the host key resolves through (/etc/ssh -> /persist/etc/ssh) is never replaced by a custom path", () => {
    // Attack F2: `path: /etc/ssh` replaced the link with a symlink to the secret; the next run had no identity.
    const host = newHost();
    const persisted = join(host.root, "persist/etc/ssh");
    mkdirSync(join(host.root, "persist/etc"), { recursive: true });
    renameSync(join(host.root, "etc/ssh"), persisted);
    symlinkSync(persisted, join(host.root, "etc/ssh"));
    const link = join(host.root, "etc/ssh");
    host.writeManifest({ kept: { file: host.encrypt("kept") }, replacing: { file: host.encrypt("replacing"), path: link } });
    const result = host.activate();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${link} is a symlink it resolves through`);
    expect(readlinkSync(link)).toBe(persisted);
    expect(host.read("kept")).toBe("kept");
    // The next run still has its key.
    const again = host.activate();
    expect(again.stderr).not.toContain("no usable identity");
    expect(again.stderr).toContain(`${link} is a symlink it resolves through`);
    expect(readlinkSync(link)).toBe(persisted);
  });

  it("an alias of an identity path's directory (/etc/ssh through a symlink) is refused", () => {
    const host = newHost();
    symlinkSync("etc/ssh", join(host.root, "ssh-alias"));
    const path = join(host.root, "ssh-alias/ssh_host_ed25519_key");
    host.writeManifest({ aliased: { file: host.encrypt("aliased"), path } });
    const result = host.activate();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("an identity path");
    expect(lstatSync(host.key).isFile()).toBe(true);
  });
});
