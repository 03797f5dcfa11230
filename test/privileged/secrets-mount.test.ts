// What ageboot mounts for plaintext, and what a secret's owner can do to it
// (issue 22, Why 4): a tmpfs that is never swapped (noswap, Linux 6.4+) with a
// size limit, a ramfs on kernels without noswap, a memory mount someone else
// made used as it is; and the owner who appends to their own file until the
// mount is full. Real mounts in the suite's private mount namespace, real
// users (setpriv), the real CLI.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { tempDir } from "../helpers/temp-dir.js";
import { whileUserExists } from "../helpers/user-created-later.js";

beforeAll(requirePrivateNamespace);

const newHost = hostPerTest();
const { alice, bob } = TEST_USERS;
const { dir: scratch, cleanup } = tempDir("ageboot-mount-");
afterAll(cleanup);

/** The mount exactly at `path`: per-mount options, file system type and its own options. */
function mountAt(path: string): { options: string[]; fstype: string; superOptions: string[] } {
  const line = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((entry) => entry.split(" ")[4] === path)
    .at(-1);
  if (!line) throw new Error(`nothing mounted on ${path}`);
  const fields = line.split(" ");
  const separator = fields.indexOf("-");
  return { options: fields[5]!.split(","), fstype: fields[separator + 1]!, superOptions: fields[separator + 3]!.split(",") };
}

/** Whether this kernel's tmpfs takes noswap (Linux 6.4+): tried on a scratch mount. */
function kernelHasNoswap(): boolean {
  const point = join(scratch, "probe");
  mkdirSync(point, { recursive: true });
  const tried = spawnSync("mount", ["-t", "tmpfs", "-o", "noswap,size=1m", "tmpfs", point]);
  if (tried.status === 0) execFileSync("umount", [point]);
  return tried.status === 0;
}

/** A tenth of MemTotal, in bytes: what size=10% gives, within a few pages (the kernel counts its own total of pages). */
function tenthOfRamBytes(): number {
  const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]);
  return (memTotalKiB * 1024) / 10;
}

/** The size= a tmpfs shows, in bytes. */
function sizeOption(superOptions: string[]): number {
  const size = superOptions.find((option) => option.startsWith("size="));
  if (!size?.endsWith("k")) throw new Error(`no size=...k in ${superOptions.join(",")}`);
  return Number(size.slice("size=".length, -1)) * 1024;
}

function statusJson(manifestPath: string): { secretsMount: unknown } {
  const result = runAgeboot(["status", "--json", "--manifest", manifestPath]);
  return JSON.parse(result.stdout) as { secretsMount: unknown };
}

describe("the mount ageboot makes", () => {
  it("is a tmpfs that is never swapped, with a tenth of RAM at most, and the log and status say so", () => {
    // This machine's kernel has noswap (6.4+); the fallback is the next test.
    expect(kernelHasNoswap()).toBe(true);
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(0);
    const mount = mountAt(host.mountPoint);
    expect(mount.fstype).toBe("tmpfs");
    expect(mount.options).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
    expect(mount.superOptions).toContain("noswap");
    const size = sizeOption(mount.superOptions);
    expect(Math.abs(size - tenthOfRamBytes())).toBeLessThan(tenthOfRamBytes() / 1000);
    const mebibytes = (size / 1024 / 1024).toFixed(0);
    expect(result.stderr).toContain(`mounted tmpfs (noswap, size ${mebibytes} MiB) on ${host.mountPoint}`);
    expect(statusJson(host.manifestPath).secretsMount).toEqual({ fstype: "tmpfs", swappable: false, sizeLimitBytes: size });
    expect(runAgeboot(["status", "--manifest", host.manifestPath]).stdout).toContain(`mount       tmpfs (noswap, size ${mebibytes} MiB)\n`);
  });

  it("is a ramfs when the kernel refuses noswap, and the log says why", () => {
    // A kernel before 6.4 refuses noswap with EINVAL, which mount(8) reports as
    // below (exit 32). This machine's kernel has noswap, so a mount(8) in front
    // of the real one refuses it the same way: the one stand-in in this file.
    const bin = join(scratch, "old-kernel-bin");
    mkdirSync(bin, { recursive: true });
    const realMount = execFileSync("sh", ["-c", "command -v mount"], { encoding: "utf8" }).trim();
    writeFileSync(
      join(bin, "mount"),
      `#!/bin/sh\ncase "$*" in *noswap*) echo "mount: $4: wrong fs type, bad option, bad superblock on tmpfs, missing codepage or helper program, or other error." >&2; exit 32;; esac\nexec ${realMount} "$@"\n`,
      { mode: 0o755 },
    );
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activateWith({ env: { PATH: `${bin}:${process.env["PATH"]}` } });
    expect(result.status).toBe(0);
    expect(mountAt(host.mountPoint).fstype).toBe("ramfs");
    expect(mountAt(host.mountPoint).options).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
    expect(result.stderr).toContain(`mounted ramfs (never swapped, no size limit) on ${host.mountPoint} (refused: tmpfs -o nodev,nosuid,mode=0751,noswap,size=10%: mount: `);
    expect(result.stderr).toContain("a tmpfs with noswap needs Linux 6.4 or later");
    expect(host.read("a")).toBe("a");
    expect(statusJson(host.manifestPath).secretsMount).toEqual({ fstype: "ramfs", swappable: false, sizeLimitBytes: null });
  });

  it("a tmpfs someone else mounted without noswap is used, with a warning that it can be swapped", () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "nosuid,nodev,size=1m,mode=0751", "tmpfs", host.mountPoint]);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${host.mountPoint}: the tmpfs mounted there has no noswap: the kernel may write its plaintext to swap`);
    expect(mountAt(host.mountPoint).superOptions).toContain("size=1024k");
    expect(statusJson(host.manifestPath).secretsMount).toEqual({ fstype: "tmpfs", swappable: true, sizeLimitBytes: 1024 * 1024 });
  });
});

/** Run python3 code as `user`, with the arguments given; its stdout. */
function asUser(user: { uid: number; gid: number }, code: string, ...args: string[]) {
  return spawnSync("setpriv", [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "/usr/bin/python3", "-c", code, ...args], { encoding: "utf8" });
}

describe("a secret's owner cannot write to, grow, chmod, link or give xattrs to their own file (it is immutable)", () => {
  it("chmod u+w, open for writing, setxattr and link fail with EPERM; a rotation goes through", () => {
    const host = newHost();
    chmodSync(host.root, 0o711); // alice passes through to the mount, as through / to /run
    host.writeManifest({
      "alice-token": { file: host.encrypt("alice-1"), owner: alice.name, mode: "0400" },
      "bob-token": { file: host.encrypt("bob-1"), owner: bob.name, mode: "0400" },
    });
    const first = host.activate();
    expect(first.status).toBe(0);
    expect(first.stderr).not.toContain("not made immutable");
    const aliceFile = join(host.mountPoint, "1", "alice-token");
    // A directory alice may write to on the same tmpfs (a hard link cannot cross file systems).
    const aliceDir = join(host.mountPoint, "scratch");
    mkdirSync(aliceDir, { mode: 0o1777 });
    chmodSync(aliceDir, 0o1777);
    expect(execFileSync("lsattr", [aliceFile], { encoding: "utf8" })).toMatch(/^-*i-* /);
    // Each attempt as alice, the file's owner: every one must be refused by the kernel.
    const attempts = asUser(
      alice,
      `
import os, sys, errno
path, linkdir = sys.argv[1], sys.argv[2]
def attempt(what, action):
    try:
        action(); print(what, "ALLOWED")
    except OSError as error:
        print(what, errno.errorcode[error.errno])
attempt("chmod", lambda: os.chmod(path, 0o600))
attempt("open-write", lambda: os.open(path, os.O_WRONLY | os.O_APPEND))
attempt("setxattr", lambda: os.setxattr(path, "user.fill", b"A" * 1024))
attempt("link", lambda: os.link(path, linkdir + "/alice-link"))
`,
      aliceFile,
      aliceDir,
    );
    expect(attempts.stderr).toBe("");
    // The link is refused for the file's immutability, in a directory alice may write to.
    expect(attempts.stdout).toBe("chmod EPERM\nopen-write EPERM\nsetxattr EPERM\nlink EPERM\n");
    expect(host.read("alice-token")).toBe("alice-1");

    // Rotations and pruning (keepGenerations 1) remove immutable generations as before.
    for (const version of [2, 3, 4]) {
      host.writeManifest({
        "alice-token": { file: host.encrypt(`alice-${version}`), owner: alice.name, mode: "0400" },
        "bob-token": { file: host.encrypt(`bob-${version}`), owner: bob.name, mode: "0400" },
      });
      const rotated = host.activate();
      expect(rotated.status, rotated.stderr).toBe(0);
    }
    expect(host.read("alice-token")).toBe("alice-4");
    expect(
      readdirSync(host.mountPoint)
        .filter((name) => /^\d+$/.test(name))
        .sort(),
    ).toEqual(["3", "4"]);
  });

  it("an owner trying all the time to open their file for writing never gets a descriptor, across rotations (no window before it is immutable)", () => {
    const host = newHost();
    chmodSync(host.root, 0o711);
    const manifest = (version: number) => ({ "alice-token": { file: host.encrypt(`alice-${version}`), owner: alice.name, mode: "0400" } });
    host.writeManifest(manifest(1));
    expect(host.activate().status).toBe(0);
    const stop = join(host.root, "stop");
    // alice's grabber: every generation's file, chmod u+w then open for writing, until told to stop.
    const grabber = spawn(
      "setpriv",
      [
        `--reuid=${alice.uid}`,
        `--regid=${alice.gid}`,
        "--clear-groups",
        "/usr/bin/python3",
        "-c",
        `
import os, sys
mount, stop = sys.argv[1], sys.argv[2]
tries = 0
# alice cannot list the mount (0751): she tries every generation number a run will make.
while not os.path.exists(stop):
    for path in [mount + "/%d/alice-token" % n for n in range(1, 8)]:
        tries += 1
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass
        try:
            os.open(path, os.O_WRONLY); print("GOT", path, flush=True)
        except OSError:
            pass
print("tries", tries, flush=True)
`,
        host.mountPoint,
        stop,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    grabber.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const grabberDone = new Promise<void>((resolve) => grabber.on("close", () => resolve()));
    for (let version = 2; version <= 6; version++) {
      host.writeManifest(manifest(version));
      expect(host.activate().status).toBe(0);
    }
    writeFileSync(stop, "");
    return grabberDone.then(() => {
      expect(output).not.toContain("GOT");
      expect(output).toMatch(/^tries [1-9]/m);
      // She did reach her files (chmod refused: immutable), she never opened one for writing.
      expect(host.read("alice-token")).toBe("alice-6");
    });
  });

  it("where the immutable flag is unavailable (a ramfs), the run warns once and goes on", () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "ramfs", "-o", "nosuid,nodev,mode=0751", "ramfs", host.mountPoint]);
    host.writeManifest({ a: { file: host.encrypt("a"), owner: alice.name }, b: { file: host.encrypt("b") } });
    const result = host.activate();
    expect(result.status).toBe(0);
    expect(result.stderr.split("not made immutable (a ramfs has no immutable flag)").length - 1).toBe(1);
    expect(host.read("a")).toBe("a");
  });
});

describe("the mount is full anyway (root filled it)", () => {
  it("the next rotation fails naming the largest file, the free inodes, and space held by deleted open files", () => {
    const host = newHost();
    host.writeManifest({ "root-key": { file: host.encrypt("root-1") } });
    expect(host.activate().status).toBe(0);
    execFileSync("mount", ["-o", "remount,size=8m", host.mountPoint]);
    // Root fills it through a file it then unlinks but keeps open: space no name accounts for.
    const held = spawn("sh", ["-c", `exec 3>"$1/filler"; rm "$1/filler"; head -c 7000000 /dev/zero >&3; echo ready; read line`, "sh", host.mountPoint], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const blocked = new Promise<ReturnType<typeof host.activate>>((resolve) => {
      held.stdout.once("data", () => {
        host.writeManifest({ "root-key": { file: host.encrypt("root-2".repeat(400_000)) } });
        resolve(host.activate());
        held.stdin.end("\n");
      });
    });
    return blocked.then((result) => {
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain("the secrets mount is full (ENOSPC)");
      expect(result.stderr).toMatch(/inodes free: \d+/);
      expect(result.stderr).toContain("held by files that were deleted but are still open");
      expect(result.stderr).not.toContain("internal error");
      expect(host.read("root-key")).toBe("root-1");
    });
  });
});

describe("a tmpfs the host mounted without mode= (1777): what a user planted there is never trusted", () => {
  it("a planted generation 1, its record and a stash directory are named and never used; a mount root not root's is refused", () => {
    const host = newHost();
    chmodSync(host.root, 0o711);
    host.writeManifest({ "alice-token": { file: host.encrypt("alice-1"), owner: alice.name, mode: "0400" } });
    expect(host.activate().status).toBe(0); // generation 1, on ageboot's own tmpfs; secretsDir names <mount>/1
    // The admin mounts a larger tmpfs over it, without mode=.
    execFileSync("mount", ["-t", "tmpfs", "-o", "nosuid,nodev,noswap,size=4m", "tmpfs", host.mountPoint]);
    expect(statSync(host.mountPoint).mode & 0o7777).toBe(0o1777);
    const precious = join(host.root, "precious");
    writeFileSync(precious, "root data", { mode: 0o600 });
    // alice plants what a generation and its record look like, before ageboot's first run on this mount.
    const record = JSON.stringify({ paths: [{ secret: "gone", path: precious, uid: 0 }], units: { gone: { restart: ["sshd.service"] } } });
    const planted = spawnSync(
      "setpriv",
      [
        `--reuid=${alice.uid}`,
        `--regid=${alice.gid}`,
        "--clear-groups",
        "sh",
        "-c",
        'mkdir "$1/1" && echo attacker > "$1/1/alice-token" && mkdir "$1/stash" && printf %s "$2" > "$1/.custom-paths-1.json"',
        "sh",
        host.mountPoint,
        record,
      ],
      { encoding: "utf8" },
    );
    expect(planted.stderr).toBe("");
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain(`${host.mountPoint}/1: owned by uid ${alice.uid}; not ageboot's, never used`);
    expect(result.stderr).toContain(`${host.mountPoint}/stash: owned by uid ${alice.uid}; not ageboot's, never used`);
    expect(result.stderr).toContain(`${host.mountPoint}/.custom-paths-1.json: owned by uid ${alice.uid}; not ageboot's, never used`);
    expect(readFileSync(precious, "utf8")).toBe("root data");
    expect(host.read("alice-token")).toBe("alice-1");
    expect(readlinkSync(host.secretsDir)).toBe(join(host.mountPoint, "2"));
    // The next run: its current generation's record is ageboot's own; alice's is still never read.
    const again = host.activate();
    expect(again.status).toBe(0);
    expect(readFileSync(precious, "utf8")).toBe("root data");
    execFileSync("umount", [host.mountPoint]);

    // A mount root that belongs to a user (uid=): refused, exit 5, naming it.
    execFileSync("mount", ["-t", "tmpfs", "-o", `nosuid,nodev,noswap,size=4m,uid=${alice.uid},mode=0751`, "tmpfs", host.mountPoint]);
    const refused = host.activate();
    expect(refused.status).toBe(5);
    expect(refused.stderr).toContain(`${host.mountPoint}: the mount there is owned by uid ${alice.uid}, not root; refusing to use it`);
  });
});

describe("a mount point or secretsDir reached through a symlinked directory", () => {
  it("is refused (exit 5) naming the symlink, and nothing is mounted: runs never stack mounts", () => {
    const host = newHost();
    // As /var/run -> /run: the manifest names the mount point through a link to the real directory.
    const realRun = join(host.root, "run");
    const linkedRun = join(host.root, "var-run");
    mkdirSync(realRun, { recursive: true });
    symlinkSync(realRun, linkedRun);
    const secrets = { a: { file: host.encrypt("a") } };
    host.writeManifest(secrets, { secretsMountPoint: join(linkedRun, "agenix.d"), secretsDir: join(realRun, "agenix") });
    const mountsBefore = readFileSync("/proc/self/mountinfo", "utf8").split("\n").length;
    for (let run = 0; run < 2; run++) {
      const refused = host.activate();
      expect(refused.status).toBe(5);
      expect(refused.stderr).toContain(`secretsMountPoint ${linkedRun}/agenix.d: ${linkedRun} is a symlink (to ${realRun})`);
    }
    expect(readFileSync("/proc/self/mountinfo", "utf8").split("\n").length).toBe(mountsBefore);
    // secretsDir's directory through the link: refused the same way.
    host.writeManifest(secrets, { secretsMountPoint: join(realRun, "agenix.d"), secretsDir: join(linkedRun, "agenix") });
    const refused = host.activate();
    expect(refused.status).toBe(5);
    expect(refused.stderr).toContain(`the directory of secretsDir ${linkedRun}: ${linkedRun} is a symlink (to ${realRun})`);
  });
});

describe("ageboot chown on immutable files", () => {
  it("re-owns a deferred secret, which is immutable again afterwards, in a generation open (0751) again", () => {
    const host = newHost();
    const carol = { name: "agetest-carol", uid: 4103, gid: 4103 };
    host.writeManifest({ token: { file: host.encrypt("carol-token"), owner: carol.name, mode: "0400" } });
    expect(runAgeboot(["activate", "--manifest", host.manifestPath, "--defer-unknown-owners"]).status).toBe(0);
    const file = join(host.mountPoint, "1", "token");
    expect(statSync(file).uid).toBe(0);
    const result = whileUserExists(host.root, carol, () => runAgeboot(["chown", "--manifest", host.manifestPath]));
    expect(result.status, result.stderr).toBe(0);
    const final = statSync(file);
    expect([final.uid, final.gid, final.mode & 0o7777]).toEqual([carol.uid, carol.gid, 0o400]);
    expect(execFileSync("lsattr", [file], { encoding: "utf8" })).toMatch(/^-*i-* /);
    expect(statSync(join(host.mountPoint, "1")).mode & 0o7777).toBe(0o751);
    // Pruning removes it like any other.
    host.writeManifest({ token: { file: host.encrypt("carol-token-2") } }, { keepGenerations: 0 });
    expect(host.activate().status).toBe(0);
    expect(readdirSync(host.mountPoint).filter((name) => /^\d+$/.test(name))).toEqual(["2"]);
  });
});

describe("ageboot chown killed at any step (reatk N2)", () => {
  it("status names what the kill left; the next chown (or activate) leaves every file of the current generation immutable and the generation 0751", () => {
    const host = newHost();
    const late = [
      { name: "agetest-late-a", uid: 4111, gid: 4111 },
      { name: "agetest-late-b", uid: 4112, gid: 4112 },
    ];
    const secrets = { a: { file: host.encrypt("A"), owner: late[0]!.name, mode: "0400" }, b: { file: host.encrypt("B"), owner: late[1]!.name, mode: "0440" } };
    host.writeManifest(secrets);
    const fresh = () => {
      spawnSync("chattr", ["-R", "-i", host.mountPoint]);
      spawnSync("umount", ["-R", host.mountPoint]);
      spawnSync("rm", ["-rf", host.mountPoint, host.secretsDir]);
      expect(runAgeboot(["activate", "--manifest", host.manifestPath, "--defer-unknown-owners"]).status).toBe(0);
    };
    const sealed = (directory: string) => ({
      mode: statSync(directory).mode & 0o7777,
      mutable: ["a", "b"].filter((name) => !/^-*i-* /.test(execFileSync("lsattr", [join(directory, name)], { encoding: "utf8" }))),
    });
    // Both users exist (as after NixOS's users step) for the chown and activate runs, not for the first activation.
    const withUsers = <T>(body: () => T): T => whileUserExists(host.root, late[0]!, () => whileUserExists(host.root, late[1]!, body));
    fresh();
    const counted = join(host.root, "steps");
    expect(withUsers(() => runAgeboot(["chown", "--manifest", host.manifestPath], { env: { AGEBOOT_TEST_COUNT_STEPS: counted } })).status).toBe(0);
    const steps = readFileSync(counted, "utf8").trim().split("\n");
    expect(steps).toContain("clear immutable for chown");
    for (const [index, step] of steps.entries()) {
      for (const next of ["chown", "activate"]) {
        fresh();
        const killed = withUsers(() => runAgeboot(["chown", "--manifest", host.manifestPath], { env: { AGEBOOT_TEST_KILL_AFTER_STEP: String(index + 1) } }));
        expect(killed.signal, step).toBe("SIGKILL");
        // What the kill left, status names as a problem.
        const left = sealed(join(host.mountPoint, "1"));
        const status = withUsers(() => runAgeboot(["status", "--manifest", host.manifestPath]));
        if (left.mode !== 0o751) expect(status.stdout, step).toContain("is mode 0700, not 0751");
        if (left.mutable.length > 0)
          expect(status.stdout, step).toContain(`${left.mutable.length} file${left.mutable.length === 1 ? "" : "s"} of the current generation not immutable`);
        if (left.mode !== 0o751 || left.mutable.length > 0) expect(status.status, step).toBe(1);
        const again = withUsers(() => runAgeboot([next, "--manifest", host.manifestPath]));
        expect(again.status, `${next} after a kill after ${step}: ${again.stderr}`).toBe(0);
        const current = join(host.mountPoint, readlinkSync(join(host.mountPoint, "current")));
        expect(sealed(current), `${next} after a kill after step ${index + 1} (${step})`).toEqual({ mode: 0o751, mutable: [] });
      }
    }
  });
});

describe("no inode left for the generation's directory", () => {
  it("is a clear error naming the mount and its free inodes, never an internal error", () => {
    const host = newHost();
    mkdirSync(host.mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "nosuid,nodev,noswap,size=4m,nr_inodes=16,mode=0751", "tmpfs", host.mountPoint]);
    // Root's own files take every inode (the root directory holds one).
    const filler = join(host.mountPoint, "filler");
    mkdirSync(filler, { mode: 0o700 });
    for (let index = 0; ; index++) {
      try {
        writeFileSync(join(filler, String(index)), "");
      } catch {
        break;
      }
    }
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const result = host.activate();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${host.mountPoint}/1: cannot create generation 1: ${host.mountPoint}: the tmpfs (noswap, size 4 MiB) is full`);
    expect(result.stderr).toMatch(/inodes free: 0 of 16/);
    expect(result.stderr).not.toContain("internal error");
  });
});
