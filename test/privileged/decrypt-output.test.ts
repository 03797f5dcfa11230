// `ageboot decrypt -o OUTPUT` run by root in a directory another user can
// write (issue 12, item 8): that user pre-creates OUTPUT, keeps it open, and
// after the run tries to read the plaintext through their descriptor, and by
// path after chmod (they own the file they created). The output must be a new
// file of root's that replaced theirs by rename, never their inode.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CANARY } from "../helpers/canary.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { tempDir } from "../helpers/temp-dir.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

beforeAll(requirePrivateNamespace);

const { dir, cleanup } = tempDir("ageboot-decrypt-output-");
afterAll(cleanup);
const alice = TEST_USERS.alice;
let key = "";
let secretFile = "";
const plaintext = Buffer.from(`database password\n${CANARY}\n`);

beforeAll(() => {
  chmodSync(dir, 0o711); // other users may pass through to the directories below
  key = sshKeygen(dir, "ssh_host_ed25519_key", "ed25519");
  secretFile = join(dir, "secret.age");
  writeFileSync(secretFile, ageEncrypt(plaintext, [["-R", `${key}.pub`]]));
});

/** A directory like /tmp (world-writable, sticky), and one the other user owns (their home, say). */
function sharedDirectories(): Array<[string, string]> {
  const sticky = join(dir, `tmp-like-${Math.random().toString(36).slice(2)}`);
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const owned = join(dir, `alice-home-${Math.random().toString(36).slice(2)}`);
  mkdirSync(owned, { mode: 0o755 });
  chownSync(owned, alice.uid, alice.gid);
  return [
    ["a world-writable sticky directory", sticky],
    ["a directory the other user owns", owned],
  ];
}

interface Attacker {
  readonly process: ChildProcessWithoutNullStreams;
  /** Tell the attacker the run is over; what they could read: "leaked", "clean", or an errno. */
  readonly report: () => Promise<{ viaDescriptor: string; viaPath: string }>;
}

/** The other user creates `path` world-readable, holds it open, and reads it when told. Prints no content. */
async function preCreateAs(path: string): Promise<Attacker> {
  const script = `
    const fs = require("node:fs");
    const path = ${JSON.stringify(path)}, canary = ${JSON.stringify(CANARY)};
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o666);
    fs.fchmodSync(fd, 0o666);
    process.stdout.write("ready\\n");
    process.stdin.once("data", () => {
      const buffer = Buffer.alloc(1 << 16);
      const viaDescriptor = buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, 0)).includes(canary) ? "leaked" : "clean";
      let viaPath;
      try { fs.chmodSync(path, 0o666); viaPath = fs.readFileSync(path).includes(canary) ? "leaked" : "clean"; }
      catch (error) { viaPath = error.code; }
      process.stdout.write(JSON.stringify({ viaDescriptor, viaPath }) + "\\n");
      process.exit(0);
    });`;
  const child = spawn(process.execPath, ["-e", script], { uid: alice.uid, gid: alice.gid, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let errors = "";
  child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => output.includes("ready\n") && resolve());
    child.on("exit", () => reject(new Error(`the other user could not pre-create ${path}: ${errors}`)));
  });
  return {
    process: child,
    report: async () => {
      child.stdin.write("go\n");
      await exited;
      expect(errors).toBe("");
      return JSON.parse(output.slice(output.indexOf("\n") + 1)) as { viaDescriptor: string; viaPath: string };
    },
  };
}

describe("decrypt -o in a directory another user can write", () => {
  for (const [where, directory] of sharedDirectories()) {
    it(`${where}: a file they pre-created is replaced by root's own, never written through`, async () => {
      const output = join(directory, "db-password");
      const attacker = await preCreateAs(output);
      const theirs = statSync(output);
      expect(theirs.uid).toBe(alice.uid);

      const result = runAgeboot(["decrypt", "-i", key, "-o", output, secretFile]);
      expect(result.status, result.stderr.toString()).toBe(0);

      const { viaDescriptor, viaPath } = await attacker.report();
      expect(viaDescriptor, "plaintext readable through the other user's descriptor").toBe("clean");
      expect(viaPath, "the other user could chmod and read OUTPUT").toMatch(/^E(PERM|ACCES)$/);
      const ours = statSync(output);
      expect(ours.ino).not.toBe(theirs.ino);
      expect([ours.uid, ours.mode & 0o7777]).toEqual([0, 0o600]);
      expect(readFileSync(output).equals(plaintext)).toBe(true);
      expect(
        readdirSync(directory).filter((name) => name.includes(".ageboot-")),
        "temporary file left behind",
      ).toEqual([]);
    });
  }
});

describe("decrypt -o refuses to replace what is not a regular file", () => {
  it("a directory on the way that its owner swapped for a symlink: refused, nothing written where it points", () => {
    const suffix = Math.random().toString(36).slice(2);
    const home = join(dir, `alice-home-${suffix}`);
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, alice.uid, alice.gid);
    const rootOnly = join(dir, `root-only-${suffix}`);
    mkdirSync(rootOnly, { mode: 0o700 });
    writeFileSync(join(rootOnly, "authorized_keys"), "root's own\n");
    // alice owns her home: she can make `inbox` a link to a directory only root may write.
    symlinkSync(rootOnly, join(home, "inbox"));
    lchownSync(join(home, "inbox"), alice.uid, alice.gid);
    const result = runAgeboot(["decrypt", "-i", key, "-o", join(home, "inbox", "authorized_keys"), secretFile]);
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toContain("refusing to follow it");
    expect(readFileSync(join(rootOnly, "authorized_keys"), "utf8")).toBe("root's own\n");
    expect(readdirSync(rootOnly)).toEqual(["authorized_keys"]);
  });

  it("a relative OUTPUT lands in the working directory", () => {
    const cwd = join(dir, `relative-${Math.random().toString(36).slice(2)}`);
    mkdirSync(cwd);
    const result = runAgeboot(["decrypt", "-i", key, "-o", "out.txt", secretFile], { cwd });
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(readFileSync(join(cwd, "out.txt")).equals(plaintext)).toBe(true);
  });

  it("a device such as /dev/null stays a device, its mode untouched", () => {
    // A null device of the test's own (major 1, minor 3), not the host's /dev/null: the code
    // before this fix chmod-ed its output to 0600, which on the real one breaks every
    // non-root program of the machine (apt's gpgv among them).
    const device = join(dir, "null-device");
    execFileSync("mknod", ["-m", "0666", device, "c", "1", "3"]);
    const result = runAgeboot(["decrypt", "-i", key, "-o", device, secretFile]);
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toContain(`${device}: cannot create output (it is not a regular file)`);
    expect(statSync(device).isCharacterDevice()).toBe(true);
    expect(statSync(device).mode & 0o7777).toBe(0o666);
  });

  it("a failed decryption leaves an existing OUTPUT as it was, and no temporary file", () => {
    const directory = join(dir, "failing");
    mkdirSync(directory);
    const output = join(directory, "existing");
    writeFileSync(output, "previous content");
    const damaged = readFileSync(secretFile);
    damaged[damaged.length - 5]! ^= 0xff;
    const damagedFile = join(dir, "damaged.age");
    writeFileSync(damagedFile, damaged);
    const result = runAgeboot(["decrypt", "-i", key, "-o", output, damagedFile]);
    expect(result.status).toBe(1);
    expect(readFileSync(output, "utf8")).toBe("previous content");
    expect(readdirSync(directory)).toEqual(["existing"]);
    expect(existsSync(join(directory, "existing"))).toBe(true);
  });
});
