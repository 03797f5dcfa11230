// Ciphertext files that a user other than root can change (issue 12, item 3).
// A secret's `file` is trusted to be what the configuration says: a user who
// can write it, or a directory on its way, swaps in another secret's
// ciphertext (world-readable, as in the Nix store) under the name of a secret
// they own, and activation hands them that plaintext. And a FIFO swapped in
// after planning held the lock forever, hanging boot.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { startAgeboot } from "../helpers/ageboot-process.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { run } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const host = hostPerFile();
const { alice, bob } = TEST_USERS;
const BOB_VALUE = "bob's database password";
let bobFile = "";
let counter = 0;

beforeAll(() => {
  chmodSync(host.root, 0o711); // alice may pass through to the directories below
  bobFile = host.encrypt(BOB_VALUE); // root's, mode 0644: world-readable, like a Nix store path
  host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name } });
  const first = host.activate();
  expect(first.status, first.stderr).toBe(0);
});

/** As alice, a real other user: the attack is made with her permissions, not root's. */
function asAlice(command: string, args: string[]): void {
  const result = spawnSync(command, args, { uid: alice.uid, gid: alice.gid, encoding: "utf8" });
  expect(result.status, `${command} ${args.join(" ")} as alice: ${result.stderr}`).toBe(0);
}

function directory(mode: number, owner: { uid: number; gid: number } = { uid: 0, gid: 0 }): string {
  const path = join(host.root, `dir-${counter++}`);
  mkdirSync(path);
  chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
  return path;
}

/**
 * Activate bob's secret and alice's, whose file alice has tampered with.
 * What alice can read under her secret's name must never be bob's value:
 * the run fails, names the file, and the previous generation stays current.
 */
function expectRefused(aliceFile: string, why: RegExp): void {
  host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name }, "alice-token": { file: aliceFile, owner: alice.name } });
  const result = host.activate();
  let aliceReads: string | null = null;
  try {
    aliceReads = host.read("alice-token");
  } catch {
    // not installed: nothing for alice to read
  }
  expect(aliceReads, "alice reads bob's secret under her own secret's name").not.toBe(BOB_VALUE);
  expect(result.status, result.stderr).toBe(1);
  expect(result.stderr).toContain(`file ${aliceFile}: `);
  expect(result.stderr).toMatch(why);
  expect(host.read("bob-token")).toBe(BOB_VALUE);
}

describe("a ciphertext file another user could have chosen is refused", () => {
  it("alice copies bob's ciphertext over her own file, in her own directory", () => {
    const aliceDir = directory(0o755, alice);
    const aliceFile = join(aliceDir, "alice-token.age");
    asAlice("cp", [bobFile, aliceFile]);
    expectRefused(aliceFile, /is writable by users other than root/);
  });

  it("alice replaces her file with a symlink to bob's (root's) ciphertext", () => {
    const aliceDir = directory(0o755, alice);
    const aliceFile = join(aliceDir, "alice-token.age");
    asAlice("ln", ["-s", bobFile, aliceFile]);
    expectRefused(aliceFile, /is writable by users other than root/);
  });

  it("a symlink alice plants in a world-writable sticky directory (like /tmp) before the file exists", () => {
    const sticky = directory(0o1777);
    const aliceFile = join(sticky, "alice-token.age");
    asAlice("ln", ["-s", bobFile, aliceFile]);
    expectRefused(aliceFile, /is writable by users other than root/);
  });

  it("root's file in root's directory, but writable by others: alice writes bob's ciphertext into it", () => {
    const rootDir = directory(0o755);
    const aliceFile = join(rootDir, "alice-token.age");
    writeFileSync(aliceFile, "");
    chmodSync(aliceFile, 0o666);
    asAlice("sh", ["-c", `cat "$1" > "$2"`, "sh", bobFile, aliceFile]);
    expectRefused(aliceFile, /writable by users other than root \(owner uid 0, mode 0666\)/);
  });

  it("a directory on the way that alice owns, holding a root-owned directory she can rename away", () => {
    const aliceDir = directory(0o755, alice);
    const inner = join(aliceDir, "secrets");
    mkdirSync(inner, { mode: 0o755 }); // root's, but in alice's directory
    const aliceFile = join(inner, "alice-token.age");
    copyFileSync(host.encrypt("alice's own value"), aliceFile);
    expectRefused(aliceFile, new RegExp(`${aliceDir} is writable by users other than root`));
  });
});

describe("what the Nix store and root's own directories look like is accepted", () => {
  it("a sticky root directory writable by a build group, with a root-owned read-only file (/nix/store)", () => {
    const store = directory(0o1775, { uid: 0, gid: TEST_USERS.alice.gid });
    const inStore = join(store, "abc123-alice-token.age");
    copyFileSync(host.encrypt("from the store"), inStore);
    chmodSync(inStore, 0o444);
    // Reached through root's symlinks, as /etc/static -> /nix/store/...-etc does.
    const etc = directory(0o755);
    symlinkSync(store, join(etc, "static"));
    host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name }, "from-store": { file: join(etc, "static", "abc123-alice-token.age"), owner: alice.name } });
    const result = host.activate();
    expect(result.status, result.stderr).toBe(0);
    expect(host.read("from-store")).toBe("from the store");
  });
});

describe("symbolic links in root's directories are followed as the kernel would", () => {
  it("a relative link through .. is followed; a loop is refused, not followed forever", () => {
    const rootDir = directory(0o755);
    mkdirSync(join(rootDir, "real"));
    copyFileSync(host.encrypt("through a relative link"), join(rootDir, "real", "secret.age"));
    mkdirSync(join(rootDir, "links"));
    symlinkSync("../real/./secret.age", join(rootDir, "links", "secret.age"));
    symlinkSync("loop-b", join(rootDir, "loop-a"));
    symlinkSync("loop-a", join(rootDir, "loop-b"));
    host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name }, relative: { file: join(rootDir, "links", "secret.age") } });
    const followed = host.activate();
    expect(followed.status, followed.stderr).toBe(0);
    expect(host.read("relative")).toBe("through a relative link");
    host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name }, loop: { file: join(rootDir, "loop-a") } });
    const looped = host.activate();
    expect(looped.status).toBe(1);
    // The plan's early stat says it first; the walk would refuse it in the same words.
    expect(looped.stderr).toContain(`file ${join(rootDir, "loop-a")}: `);
    expect(looped.stderr).toMatch(/too many (levels of )?symbolic links/);
  });
});

describe("a FIFO swapped in for the ciphertext after planning", () => {
  it("fails that secret at once and releases the lock, instead of waiting for a writer forever", async () => {
    const file = host.encrypt("about to become a FIFO");
    host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name }, fifo: { file } });
    // Hold the lock, so that the run plans (the file is regular then) and waits.
    const lockPath = join(host.root, "run", ".agenix.d.lock");
    const holder = spawn("flock", ["--exclusive", lockPath, "sh", "-c", "echo locked; read line"], { stdio: ["pipe", "pipe", "ignore"] });
    await new Promise<void>((resolve) => holder.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("locked") && resolve()));
    const { child: activation, exited: ended, stderrSoFar } = startAgeboot(["activate", "--manifest", host.manifestPath]);
    const exited = ended.then((exit) => exit.status);
    await waitForLockWaiter(activation.pid!);

    const fifo = `${file}.fifo`;
    run("mkfifo", [fifo]);
    renameSync(fifo, file);
    holder.stdin.end("\n");

    const status = await Promise.race([exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 20_000))]);
    if (status === "hung") activation.kill("SIGKILL");
    expect(status, "the run hung on the FIFO").toBe(1);
    expect(stderrSoFar()).toContain(`file ${file}: not a regular file`);
    // The lock is free again: the next run goes ahead.
    host.writeManifest({ "bob-token": { file: bobFile, owner: bob.name } });
    expect(host.activate().status).toBe(0);
  });
});

/** Until the run has planned and is waiting for the lock: its flock(1) child exists. */
async function waitForLockWaiter(pid: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const children = spawnSync("pgrep", ["-P", String(pid), "-x", "flock"], { encoding: "utf8" }).stdout.trim();
    if (children !== "") return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the run never waited for the lock");
}
