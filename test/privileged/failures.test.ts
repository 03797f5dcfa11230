// Every way decryption can fail gets a named cause: the file, the class of error,
// and why. Files come from the real age and are then damaged on purpose.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeBase64NoPad } from "../../src/age/base64.js";
import { decryptAgeFile } from "../../src/sources/age.js";
import { AgebootError, type ErrorCode } from "../../src/errors.js";
import { loadIdentities } from "../../src/identities/load.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import { CANARY } from "../helpers/canary.js";
import { tempDir } from "../helpers/temp-dir.js";
import { ageEncrypt, ageKeygen, run, sshKeygen } from "../helpers/tools.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

let edKey: string;
let rsaKey: string;
let identities: LoadedIdentity[];
let plaintext: Buffer;
let edFile: Buffer; // to the ed25519 key only
let rsaFile: Buffer; // to the RSA key only

beforeAll(async () => {
  edKey = sshKeygen(dir, "host_ed25519", "ed25519");
  rsaKey = sshKeygen(dir, "host_rsa", "rsa", { bits: 2048 });
  identities = (await loadIdentities([edKey, rsaKey])).identities;
  // Three full chunks and a partial one, the canary in every chunk.
  plaintext = Buffer.alloc(3 * 65_536 + 100, `${CANARY}\n`);
  edFile = ageEncrypt(plaintext, [["-R", `${edKey}.pub`]]);
  rsaFile = ageEncrypt(plaintext, [["-R", `${rsaKey}.pub`]]);
});

let counter = 0;
async function failureOf(contents: Buffer | string): Promise<{ code: ErrorCode; message: string; file: string }> {
  const file = join(dir, `damaged-${counter++}.age`);
  writeFileSync(file, contents);
  try {
    await decryptAgeFile({ file }, identities);
  } catch (error) {
    expect(error).toBeInstanceOf(AgebootError);
    const { code, message } = error as AgebootError;
    expect(message.startsWith(`${file}: `), message).toBe(true);
    expect(message).not.toContain(CANARY);
    return { code, message, file };
  }
  throw new Error("decryption unexpectedly succeeded");
}

/** The header ends after the "--- MAC" line. */
function headerEnd(file: Buffer): number {
  return file.indexOf("\n", file.indexOf("\n---") + 1) + 1;
}

function replaceInHeader(file: Buffer, from: string | RegExp, to: string | ((match: string, ...groups: string[]) => string)): Buffer {
  const end = headerEnd(file);
  const header = file.subarray(0, end).toString("latin1");
  const changed = typeof to === "string" ? header.replace(from, to) : header.replace(from, to);
  expect(changed).not.toBe(header);
  return Buffer.concat([Buffer.from(changed, "latin1"), file.subarray(end)]);
}

describe("damaged age files", () => {
  it("not an age file at all", async () => {
    const failure = await failureOf("just some text\n");
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("not an age file");
  });

  it("an empty file", async () => {
    expect((await failureOf("")).code).toBe("MALFORMED");
  });

  it("truncated anywhere inside the header", async () => {
    const end = headerEnd(edFile);
    for (const cut of [10, 22, 40, end - 20, end - 1]) {
      const failure = await failureOf(edFile.subarray(0, cut));
      expect(["MALFORMED", "CORRUPT"], `cut at ${cut}: ${failure.message}`).toContain(failure.code);
    }
  });

  it("truncated in the payload, at and around each 64 KiB chunk boundary", async () => {
    const payloadStart = headerEnd(edFile) + 16; // the 16-byte nonce
    const chunk = 65_536 + 16;
    const cuts = [headerEnd(edFile), payloadStart - 1, payloadStart, payloadStart + 1];
    for (const boundary of [1, 2, 3]) cuts.push(payloadStart + boundary * chunk - 1, payloadStart + boundary * chunk, payloadStart + boundary * chunk + 1);
    cuts.push(edFile.length - 1);
    for (const cut of cuts) {
      const failure = await failureOf(edFile.subarray(0, cut));
      expect(failure.code, `cut at ${cut}: ${failure.message}`).toBe("CORRUPT");
      expect(failure.message).toMatch(/truncated/);
    }
  });

  it("a flipped bit in the payload", async () => {
    for (const offset of [headerEnd(edFile) + 3, headerEnd(edFile) + 16 + 70_000, edFile.length - 1]) {
      const damaged = Buffer.from(edFile);
      damaged[offset]! ^= 0x01;
      const failure = await failureOf(damaged);
      expect(failure.code).toBe("CORRUPT");
      expect(failure.message).toContain("tampered");
    }
  });

  it("trailing data after the final chunk", async () => {
    expect((await failureOf(Buffer.concat([edFile, Buffer.from("x")]))).code).toBe("CORRUPT");
  });

  it("a header MAC that does not verify", async () => {
    const failure = await failureOf(replaceInHeader(edFile, /--- (\S)/, (_, first) => `--- ${first === "A" ? "B" : "A"}`));
    expect(failure.code).toBe("CORRUPT");
    expect(failure.message).toContain("header MAC does not verify");
  });

  it("a header with a stanza added after the file was made", async () => {
    const failure = await failureOf(replaceInHeader(edFile, "\n---", `\n-> extra-stanza arg\n${encodeBase64NoPad(Buffer.alloc(5))}\n---`));
    expect(failure.code).toBe("CORRUPT");
  });

  it("an ssh-ed25519 stanza with the wrong number of arguments", async () => {
    const failure = await failureOf(replaceInHeader(edFile, /(-> ssh-ed25519 \S+ \S+)/, "$1 extra"));
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("invalid ssh-ed25519 stanza: expected 2 arguments, found 3");
  });

  it("an ssh-ed25519 stanza whose ephemeral share is a low-order point", async () => {
    const failure = await failureOf(replaceInHeader(edFile, /(-> ssh-ed25519 \S+) \S+/, `$1 ${encodeBase64NoPad(Buffer.alloc(32))}`));
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("low-order point");
  });

  it("an ssh-ed25519 stanza whose share is not canonical base64", async () => {
    const failure = await failureOf(replaceInHeader(edFile, /(-> ssh-ed25519 \S+ \S+)\S/, "$1B"));
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("canonical base64");
  });

  it("an ssh-ed25519 stanza body that is not a wrapped 16-byte key", async () => {
    const failure = await failureOf(replaceInHeader(edFile, /(-> ssh-ed25519 \S+ \S+\n)\S+\n/, `$1${encodeBase64NoPad(randomBytes(31))}\n`));
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("not a wrapped 16-byte file key");
  });

  it("an ssh-rsa stanza with a body of the wrong size", async () => {
    const failure = await failureOf(replaceInHeader(rsaFile, /(-> ssh-rsa \S+\n)(?:\S{64}\n)*\S*\n/, (_, first) => `${first}${wrap(encodeBase64NoPad(randomBytes(100)))}`));
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("invalid ssh-rsa stanza: body is 100 bytes, the key needs 256");
  });

  it("an ssh-rsa stanza with our tag that does not decrypt", async () => {
    const failure = await failureOf(replaceInHeader(rsaFile, /(-> ssh-rsa \S+\n)(?:\S{64}\n)*\S*\n/, (_, first) => `${first}${wrap(encodeBase64NoPad(randomBytes(256)))}`));
    expect(failure.code).toBe("CORRUPT");
    expect(failure.message).toContain("RSA-OAEP failed");
  });

  it("a damaged ASCII armor", async () => {
    const armored = ageEncrypt(plaintext.subarray(0, 100), [["-R", `${edKey}.pub`]], true).toString();
    const failure = await failureOf(armored.replace("-----END AGE ENCRYPTED FILE-----", "-----END AGE FILE-----"));
    expect(failure.code).toBe("MALFORMED");
    expect(failure.message).toContain("malformed ASCII armor");
  });

  it("a file for other keys names its recipients and every identity tried", async () => {
    const otherEd = sshKeygen(dir, "other_ed25519", "ed25519");
    const [, otherAge] = ageKeygen(dir, "other_age");
    const failure = await failureOf(
      ageEncrypt(plaintext, [
        ["-R", `${otherEd}.pub`],
        ["-r", otherAge],
      ]),
    );
    expect(failure.code).toBe("NO_MATCH");
    const otherTag = (await loadIdentities([otherEd])).identities[0]!.tag!;
    const recipients = /encrypted to \[([^\]]*)\]/.exec(failure.message)?.[1]?.split(", ");
    expect(recipients?.sort()).toEqual(["X25519", `ssh-ed25519 ${otherTag}`]);
    for (const identity of identities) {
      expect(failure.message).toContain(`${identity.type}${identity.tag ? ` ${identity.tag}` : ""} ${identity.fingerprint} (${identity.path}`);
    }
    expect(failure.message).toContain("Rekey");
  });

  it("a passphrase-encrypted file says so", async () => {
    // age -p needs a terminal; build the header by hand. The MAC is never reached.
    const failure = await failureOf(
      `age-encryption.org/v1\n-> scrypt ${encodeBase64NoPad(randomBytes(16))} 10\n${encodeBase64NoPad(randomBytes(32))}\n--- ${encodeBase64NoPad(randomBytes(32))}\n`,
    );
    expect(failure.code).toBe("NO_MATCH");
    expect(failure.message).toContain("scrypt (passphrase-encrypted)");
  });

  it("a file that cannot be read", async () => {
    await expect(decryptAgeFile({ file: join(dir, "does-not-exist.age") }, identities)).rejects.toMatchObject({
      code: "IO",
      message: expect.stringContaining("does-not-exist.age: cannot read"),
    });
  });
});

function wrap(base64: string): string {
  const lines = base64.match(/.{1,64}/g)!;
  return `${lines.join("\n")}\n${base64.length % 64 === 0 ? "\n" : ""}`;
}

describe("identity paths", () => {
  it("missing, empty, directory, FIFO, passphrase-protected, ECDSA, garbage and public keys are each reported and skipped", async () => {
    const empty = join(dir, "empty_key");
    writeFileSync(empty, "", { mode: 0o600 });
    const directory = join(dir, "a_directory");
    mkdirSync(directory);
    const fifo = join(dir, "a_fifo");
    run("mkfifo", [fifo]);
    const encrypted = sshKeygen(dir, "encrypted_key", "ed25519", { passphrase: "correct horse" });
    const ecdsa = sshKeygen(dir, "ecdsa_key", "ecdsa");
    const garbageBody = randomBytes(300).toString("base64");
    const garbage = join(dir, "garbage_key");
    writeFileSync(garbage, `-----BEGIN OPENSSH PRIVATE KEY-----\n${garbageBody}\n-----END OPENSSH PRIVATE KEY-----\n`, { mode: 0o600 });
    const huge = join(dir, "huge_key");
    writeFileSync(huge, Buffer.alloc(2 * 1024 * 1024, "A"), { mode: 0o600 });
    const missing = join(dir, "missing_key");
    const paths = [missing, empty, directory, fifo, encrypted, ecdsa, garbage, huge, `${edKey}.pub`, edKey];

    const set = await loadIdentities(paths);
    const warningOf = (path: string) =>
      set.warnings
        .filter((warning) => warning.path === path)
        .map((warning) => warning.message)
        .join(" | ");
    expect(warningOf(missing)).toBe("identity file does not exist, skipped");
    expect(warningOf(empty)).toBe("identity file is empty, skipped");
    expect(warningOf(directory)).toBe("not a regular file, skipped");
    expect(warningOf(fifo)).toBe("not a regular file, skipped");
    expect(warningOf(encrypted)).toContain("passphrase-protected");
    expect(warningOf(ecdsa)).toContain("ecdsa keys cannot decrypt age files");
    expect(warningOf(garbage)).toContain("not a valid OpenSSH, PEM or PKCS#8 private key");
    expect(warningOf(huge)).toContain("too large");
    expect(warningOf(`${edKey}.pub`)).toContain("an SSH public key; the private key is needed");
    expect(warningOf(edKey)).toBe("");
    expect(JSON.stringify(set.warnings)).not.toContain(garbageBody.slice(0, 40));
    // The one good key still works after all the bad ones.
    expect(set.identities.map((identity) => identity.type)).toEqual(["ssh-ed25519", "X25519"]);
    expect((await decryptAgeFile({ file: writeTemp(edFile) }, set.identities)).equals(plaintext)).toBe(true);
  });

  it("an age identity file with one bad line keeps its good lines and names the bad one", async () => {
    const [good, recipient] = ageKeygen(dir, "good_age");
    const mixed = join(dir, "mixed_age_keys");
    writeFileSync(mixed, `# comment\nAGE-SECRET-KEY-1NOTAKEY\n${run("cat", [good])}AGE-PLUGIN-YUBIKEY-1ABC\n`, { mode: 0o600 });
    const set = await loadIdentities([mixed]);
    expect(set.warnings.map((warning) => warning.message)).toEqual(["line 2: not a valid age identity, skipped", "line 6: age plugin identities are not supported, skipped"]);
    expect(set.identities.map((identity) => identity.fingerprint)).toEqual([recipient]);
  });

  it("warns when a private key is readable by group or others, and still uses it", async () => {
    const loose = sshKeygen(dir, "loose_key", "ed25519");
    chmodSync(loose, 0o644);
    const set = await loadIdentities([loose]);
    expect(set.warnings).toEqual([{ path: loose, message: expect.stringContaining("readable or writable by group or others (mode 0644)") }]);
    expect(set.identities).toHaveLength(2);
  });

  it("an ed25519 key file whose public half belongs to another key is refused", async () => {
    const mismatched = sshKeygen(dir, "mismatched", "ed25519");
    const other = sshKeygen(dir, "mismatched_other", "ed25519");
    // The OpenSSH format stores the raw 32-byte public point three times (outer
    // blob, private section, and the end of the 64-byte private key); replace
    // every copy, so the file consistently claims another key's public half.
    const pointOf = (path: string) =>
      Buffer.from(
        run("cat", [`${path}.pub`])
          .toString()
          .split(" ")[1]!,
        "base64",
      ).subarray(-32);
    const text = run("cat", [mismatched]).toString();
    const body = Buffer.from(text.split("\n").slice(1, -2).join(""), "base64");
    let copies = 0;
    for (let at = body.indexOf(pointOf(mismatched)); at >= 0; at = body.indexOf(pointOf(mismatched), at + 1), copies++) pointOf(other).copy(body, at);
    expect(copies).toBe(3);
    const forged = join(dir, "forged_key");
    writeFileSync(
      forged,
      `-----BEGIN OPENSSH PRIVATE KEY-----\n${body
        .toString("base64")
        .match(/.{1,70}/g)!
        .join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
      { mode: 0o600 },
    );
    const set = await loadIdentities([forged]);
    expect(set.identities).toEqual([]);
    expect(set.warnings[0]?.message).toBe("ed25519 public key does not match the private key, skipped");
  });
});

function writeTemp(contents: Buffer): string {
  const file = join(dir, `ok-${counter++}.age`);
  writeFileSync(file, contents);
  return file;
}
