// The `ageboot decrypt` command as a user runs it: the built CLI in a child process.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgeboot, type AgebootRunOptions } from "../helpers/ageboot-process.js";
import { CANARY } from "../helpers/canary.js";
import { tempDir } from "../helpers/temp-dir.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

let key: string;
let plaintext: Buffer;
let secretFile: string;

beforeAll(() => {
  key = sshKeygen(dir, "ssh_host_ed25519_key", "ed25519");
  plaintext = Buffer.concat([Buffer.from(CANARY), randomBytes(70_000)]);
  secretFile = join(dir, "secret.age");
  writeFileSync(secretFile, ageEncrypt(plaintext, [["-R", `${key}.pub`]]));
});

/** The CLI with its output as bytes (decrypt's stdout is the plaintext, byte for byte). */
function runCli(args: string[], options: AgebootRunOptions = {}) {
  return runAgeboot(args, { ...options, binary: true });
}

function expectNoCanary(result: ReturnType<typeof runCli>): void {
  expect(result.stderr.toString()).not.toContain(CANARY);
}

describe("ageboot decrypt", () => {
  it("writes the plaintext to stdout", () => {
    const result = runCli(["decrypt", "-i", key, secretFile], { plaintextOnStdout: true });
    expect(result.status).toBe(0);
    expect(result.stdout.equals(plaintext)).toBe(true);
    expect(result.stderr.toString()).toBe("");
  });

  it("-o creates the output with mode 0600, even over an existing wider file", () => {
    const output = join(dir, "out-existing");
    writeFileSync(output, "old", { mode: 0o644 });
    const result = runCli(["decrypt", "-i", key, "-o", output, secretFile]);
    expect(result.status).toBe(0);
    expect(readFileSync(output).equals(plaintext)).toBe(true);
    expect(statSync(output).mode & 0o777).toBe(0o600);
    const fresh = join(dir, "out-fresh");
    expect(runCli(["decrypt", "-i", key, "-o", fresh, secretFile]).status).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });

  it("-o never follows a symlink planted at the output path", () => {
    const target = join(dir, "symlink-target");
    writeFileSync(target, "untouched");
    const link = join(dir, "planted-link");
    symlinkSync(target, link);
    const result = runCli(["decrypt", "-i", key, "-o", link, secretFile]);
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toContain(`${link}: cannot create output`);
    expect(readFileSync(target, "utf8")).toBe("untouched");
  });

  it("leaves no output file when the payload turns out to be corrupt", () => {
    const damaged = readFileSync(secretFile);
    damaged[damaged.length - 5]! ^= 0xff;
    const damagedFile = join(dir, "damaged.age");
    writeFileSync(damagedFile, damaged);
    const output = join(dir, "out-damaged");
    const result = runCli(["decrypt", "-i", key, "-o", output, damagedFile]);
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toContain(`${damagedFile}: payload does not authenticate`);
    expect(existsSync(output)).toBe(false);
    expectNoCanary(result);
  });

  it("creates no output file when no identity matches", () => {
    const otherKey = sshKeygen(dir, "other_key", "ed25519");
    const output = join(dir, "out-nomatch");
    const result = runCli(["decrypt", "-i", otherKey, "-o", output, secretFile]);
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toMatch(/no identity matches: the file is encrypted to \[ssh-ed25519 \S+\]; tried: ssh-ed25519/);
    expect(existsSync(output)).toBe(false);
  });

  it("a file name starting with '-' is a file after '--', and an unknown option before it", () => {
    const dashed = join(dir, "-secret.age");
    writeFileSync(dashed, readFileSync(secretFile));
    const withSeparator = runCli(["decrypt", "-i", key, "--", "-secret.age"], { cwd: dir, plaintextOnStdout: true });
    expect(withSeparator.status).toBe(0);
    expect(withSeparator.stdout.equals(plaintext)).toBe(true);
    const without = runCli(["decrypt", "-i", key, "-secret.age"], { cwd: dir });
    expect(without.status).toBe(2);
    expect(without.stderr.toString()).toContain("Unknown option");
  });

  it('"-" reads standard input, binary or armored', () => {
    const binary = runCli(["decrypt", "-i", key, "-"], { input: readFileSync(secretFile), plaintextOnStdout: true });
    expect(binary.status).toBe(0);
    expect(binary.stdout.equals(plaintext)).toBe(true);
    const armored = runCli(["decrypt", "-i", key, "-"], { input: ageEncrypt(plaintext, [["-R", `${key}.pub`]], true), plaintextOnStdout: true });
    expect(armored.status).toBe(0);
    expect(armored.stdout.equals(plaintext)).toBe(true);
  });

  it("keeps going past bad identity paths, warning about each", () => {
    const result = runCli(["decrypt", "-i", join(dir, "nope"), "-i", dir, "-i", key, secretFile], { plaintextOnStdout: true });
    expect(result.status).toBe(0);
    const stderr = result.stderr.toString();
    expect(stderr).toContain(`ageboot: warning: ${join(dir, "nope")}: identity file does not exist, skipped`);
    expect(stderr).toContain(`ageboot: warning: ${dir}: not a regular file, skipped`);
  });

  it("exits 3 when no identity can be loaded at all", () => {
    const result = runCli(["decrypt", "-i", join(dir, "nope"), secretFile]);
    expect(result.status).toBe(3);
    expect(result.stderr.toString()).toContain(`no usable identity in ${join(dir, "nope")}`);
  });

  it("exits 2 on usage errors, with help", () => {
    expect(runCli(["decrypt", secretFile]).status).toBe(2);
    expect(runCli(["decrypt", "-i", key]).status).toBe(2);
    expect(runCli(["decrypt", "-i", key, "a", "b"]).status).toBe(2);
    expect(runCli(["frobnicate"]).status).toBe(2);
    expect(runCli([]).status).toBe(2);
    const help = runCli(["decrypt", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout.toString()).toContain("Usage: ageboot decrypt");
    expect(runCli(["--help"]).stdout.toString()).toContain("Exit status");
  });

  it("logs JSON on request and journal priorities under systemd", () => {
    const json = runCli(["--log-format", "json", "decrypt", "-i", join(dir, "nope"), "-i", key, secretFile], { plaintextOnStdout: true });
    const record = JSON.parse(json.stderr.toString().split("\n")[0]!) as { level: number; msg: string };
    expect(record).toMatchObject({ level: 40, msg: expect.stringContaining("identity file does not exist") });
    // JOURNAL_STREAM names stderr's device:inode when systemd connects stderr to the journal.
    const stderrFile = join(dir, "stderr.log");
    writeFileSync(stderrFile, "");
    const { dev, ino } = statSync(stderrFile);
    const result = runAgeboot(["decrypt", "-i", join(dir, "nope"), secretFile], { stderrFile, env: { JOURNAL_STREAM: `${dev}:${ino}` } });
    expect(result.status).toBe(3);
    const lines = readFileSync(stderrFile, "utf8").trim().split("\n");
    expect(lines[0]).toMatch(/^<4>\/.*identity file does not exist, skipped$/);
    expect(lines[1]).toMatch(/^<3>no usable identity/);
  });
});
