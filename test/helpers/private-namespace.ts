import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Users and groups that exist only inside the test's mount namespace. */
export const TEST_USERS = {
  alice: { name: "agetest-alice", uid: 4101, gid: 4101 },
  bob: { name: "agetest-bob", uid: 4102, gid: 4102 },
} as const;
export const TEST_GROUPS = { shared: { name: "agetest-shared", gid: 4200 }, keys: { name: "keys", gid: 4300 } } as const;

/**
 * Privileged tests run as root in a private mount namespace (npm test starts
 * vitest under `unshare --mount`). There, a private /etc/passwd and /etc/group
 * with test users are laid over /etc (./private-etc.sh: an overlay, which a
 * host's useradd during the run cannot undo), so real chown to real users can
 * be checked without touching the host's user database.
 */
export default function enterTestNamespace(): void {
  // Without root in a private namespace there is nothing to set up; the
  // privileged tests then fail through requirePrivateNamespace(), never skip.
  if (privateNamespaceProblem() === null) bindTestUsers();
}

/** Why privileged tests cannot run here, or null. */
function privateNamespaceProblem(): string | null {
  if (process.getuid?.() !== 0) return "privileged tests need root (mounts, chown): run npm test as root";
  // scripts/run-tests.sh records the namespace it started in before unshare.
  const outer = process.env["AGEBOOT_OUTER_MOUNT_NS"];
  if (!outer || readlinkSync("/proc/self/ns/mnt") === outer) {
    return "privileged tests run only in a private mount namespace (they bind-mount over /etc/passwd): run them with npm test, which uses unshare --mount";
  }
  return null;
}

/** For privileged test files: throws (fails the file) unless the namespace is set up. */
export function requirePrivateNamespace(): void {
  const problem = privateNamespaceProblem();
  if (problem !== null) throw new Error(problem);
  if (!readFileSync("/etc/passwd", "utf8").includes(`${TEST_USERS.alice.name}:`)) throw new Error("test users are missing from /etc/passwd");
}

/** The script that lays the private files over /etc (its comment says why an overlay). */
export const PRIVATE_ETC_SCRIPT = fileURLToPath(new URL("./private-etc.sh", import.meta.url));

function bindTestUsers(): void {
  if (readFileSync("/etc/passwd", "utf8").includes(`${TEST_USERS.alice.name}:`)) return;
  // Under the run's own temporary directory (./run-temp-dir.ts), removed with it.
  const files = join(tmpdir(), `ageboot-test-etc-files-${process.pid}`);
  mkdirSync(files, { recursive: true });
  const users = Object.values(TEST_USERS).map((user) => `${user.name}:x:${user.uid}:${user.gid}::/nonexistent:/usr/sbin/nologin\n`);
  const groups = [
    ...Object.values(TEST_USERS).map((user) => `${user.name}:x:${user.gid}:\n`),
    `${TEST_GROUPS.shared.name}:x:${TEST_GROUPS.shared.gid}:${TEST_USERS.alice.name},${TEST_USERS.bob.name}\n`,
  ];
  const existingGroups = readFileSync("/etc/group", "utf8");
  // A "keys" group, as NixOS has, unless the host already has one.
  if (!/^keys:/m.test(existingGroups)) groups.push(`keys:x:${TEST_GROUPS.keys.gid}:\n`);
  writeFileSync(join(files, "passwd"), readFileSync("/etc/passwd", "utf8") + users.join(""));
  writeFileSync(join(files, "group"), existingGroups + groups.join(""));
  // An NSS source beyond the files, as on a host with LDAP or systemd's userdb:
  // ageboot then asks getent for names the files lack (src/nss-sources.ts), and
  // the tests that put a slow getent on PATH see it asked. glibc skips a
  // service whose module it cannot load, so getent itself answers as before.
  // Without an nsswitch.conf ageboot asks NSS anyway, and there is nothing to lay over.
  if (existsSync("/etc/nsswitch.conf")) {
    const others = readFileSync("/etc/nsswitch.conf", "utf8")
      .split("\n")
      .filter((line) => !/^\s*(passwd|group)\s*:/.test(line));
    writeFileSync(join(files, "nsswitch.conf"), ["passwd: files agetest", "group: files agetest", ...others].join("\n"));
  }
  execFileSync("bash", [PRIVATE_ETC_SCRIPT, "/etc", files, join(tmpdir(), `ageboot-test-etc-${process.pid}`)], { stdio: ["ignore", "inherit", "inherit"] });
}
