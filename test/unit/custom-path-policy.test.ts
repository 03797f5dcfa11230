// Manifest validation refuses custom paths that would replace ageboot's own
// state, the host's keys, another manifest's secrets, kernel file systems or a
// system file the host depends on: each refusal names the secret and the reason.
import { describe, expect, it } from "vitest";
import { validateManifest } from "../../src/manifest/validate.js";

const base = {
  version: 1,
  secretsDir: "/run/secrets",
  secretsMountPoint: "/run/secrets.d",
  identityPaths: ["/persist/etc/ssh/ssh_host_ed25519_key", "/etc/age/keys"],
};

function problemsFor(path: string): string[] {
  const result = validateManifest({ ...base, secrets: { "db-password": { file: "/f.age", path } } });
  return "problems" in result ? result.problems : [];
}

describe("custom paths that are refused", () => {
  it.each([
    ["the lock file of the mount point", "/run/.secrets.d.lock", "must not be /run/.secrets.d.lock: the lock file of secretsMountPoint"],
    ["under the lock file", "/run/.secrets.d.lock/x", "must not be under /run/.secrets.d.lock"],
    ["an identity path", "/persist/etc/ssh/ssh_host_ed25519_key", "an identity path (the host's key)"],
    ["under an identity path (a directory of keys)", "/etc/age/keys/extra", "must not be under /etc/age/keys: an identity path"],
    ["/proc", "/proc/sys/kernel/core_pattern", "must not be under /proc: a kernel file system"],
    ["/sys", "/sys/kernel/uevent_helper", "must not be under /sys: a kernel file system"],
    ["/dev", "/dev/shm/secret", "must not be under /dev"],
    ["agenix's default secretsDir", "/run/agenix/db-password", "must not be under /run/agenix: agenix's default secretsDir"],
    ["agenix's default mount point", "/run/agenix.d", "must not be /run/agenix.d: agenix's default secrets mount point"],
    ["agenix's default lock file", "/run/.agenix.d.lock", "the lock file of agenix's default mount point"],
    ["/etc/shadow", "/etc/shadow", "must not be /etc/shadow: the password database"],
    ["/etc/passwd", "/etc/passwd", "the user database"],
    ["/etc/group", "/etc/group", "the group database"],
    ["/etc/gshadow", "/etc/gshadow", "the group password database"],
    ["a sudoers drop-in", "/etc/sudoers.d/admins", "must not be under /etc/sudoers.d: sudo's policy"],
    ["/etc/sudoers", "/etc/sudoers", "sudo's policy"],
    ["a PAM file", "/etc/pam.d/sshd", "how every login authenticates"],
    ["the loader's preload list", "/etc/ld.so.preload", "libraries loaded into every process"],
    ["the Nix store", "/nix/store/abc-secret", "the Nix store, immutable"],
    ["the /var/run link itself", "/var/run", "must not be /var/run: the link to /run"],
    ["the /var/lock link itself", "/var/lock", "must not be /var/lock: the link to /run/lock"],
    ["NixOS's /etc/static link", "/etc/static", "must not be /etc/static: NixOS's link"],
  ])("%s", (_, path, reason) => {
    const problems = problemsFor(path);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('secret "db-password" field "path"');
    expect(problems[0]).toContain(reason);
  });

  it("keeps its own messages for secretsDir and the mount point", () => {
    expect(problemsFor("/run/secrets/other")[0]).toContain("a custom path must not be inside secretsDir");
    expect(problemsFor("/run/secrets.d/1/x")[0]).toContain("must not be inside secretsMountPoint");
  });

  it("uses agenix's default places when the manifest leaves them unset", () => {
    const result = validateManifest({ version: 1, secrets: { a: { file: "/f.age", path: "/run/.agenix.d.lock" } } });
    expect("problems" in result && result.problems[0]).toContain("the lock file of secretsMountPoint");
  });
});

describe("custom paths that are accepted", () => {
  it.each([
    ["a home directory", "/home/alice/.ssh/id_ed25519"],
    ["a service's directory", "/var/lib/app/token"],
    ["a file beside an identity path, not under it", "/persist/etc/ssh/ssh_host_ed25519_key.pub"],
    ["a name that only starts like a forbidden one", "/etc/passwd-backup"],
    ["another directory in /run", "/run/app/token"],
    ["/etc/ssh, for host keys ageboot does not read", "/etc/ssh/ssh_host_rsa_key"],
  ])("%s", (_, path) => {
    expect(problemsFor(path)).toEqual([]);
  });
});
