// A large ASCII-armored age file (larger than what src/age/input.ts reads
// whole) is decoded as a stream, never held: in one pass when its shape tells
// its decoded size, in two otherwise (src/age/armored-file.ts). It must
// decrypt to its plaintext with LF, CRLF or white space around it; a bad
// character deep in it fails MALFORMED naming its line (in one pass, once
// decryption got there: the caller discards what it wrote, as for a corrupt
// chunk of a binary file); a cut, or anything else of another shape, fails
// MALFORMED before any plaintext exists. In
// process and without tools, moved from test/unit/armor-stream.test.ts (which
// checks the decoder itself against the reference) to the privileged tier:
// encrypting, armoring and decrypting 6 MiB five times takes about a second of
// processor time, which the fast unit tier cannot afford.
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPlaintext } from "../../src/age/decrypt.js";
import { AgebootError } from "../../src/errors.js";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";
import type { AgeIdentity } from "../../src/age/identity.js";

describe("a large armored file is decoded as a stream, never held", () => {
  const root = mkdtempSync(join(tmpdir(), "ageboot-armor-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let identities: AgeIdentity[] = [];
  let recipient = "";
  /** Larger than what input.ts reads whole (4 MiB), so the file is streamed. */
  const plaintext = randomBytes(6 * 1024 * 1024 + 12345);
  let armored = "";

  beforeAll(async () => {
    const identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    identities = (await identitiesFromAgeFile(identity, "test")).identities.map((loaded) => loaded.identity);
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    armored = armor.encode(await encrypter.encrypt(plaintext));
  });

  async function decryptFile(contents: string): Promise<{ plaintext: Buffer } | { error: AgebootError; released: number }> {
    const path = join(root, `file-${Math.random().toString(36).slice(2)}.age`);
    writeFileSync(path, contents, "latin1");
    const chunks: Buffer[] = [];
    try {
      const opened = await openPlaintext({ file: path }, identities);
      await opened.pipeTo((chunk) => void chunks.push(Buffer.from(chunk)));
      return { plaintext: Buffer.concat(chunks) };
    } catch (error) {
      if (!(error instanceof AgebootError)) throw error;
      return { error, released: chunks.length };
    }
  }

  for (const [what, transform] of [
    ["LF", (text: string) => text],
    ["CRLF", (text: string) => text.replaceAll("\n", "\r\n")],
    ["white space around it", (text: string) => `\n \t${text}\r\n\n  `],
  ] as const) {
    it(`${what}: decrypts to the plaintext`, async () => {
      const result = await decryptFile(transform(armored));
      expect("plaintext" in result && result.plaintext.equals(plaintext)).toBe(true);
    });
  }

  const lineNumber = 100_000; // about 4.6 MiB into the file: past the first 4 MiB

  it("a bad character deep in the payload: MALFORMED, naming its line, and not a byte of what follows it", async () => {
    const lines = armored.split("\n");
    lines[lineNumber - 1] = `${lines[lineNumber - 1]!.slice(0, 10)}*${lines[lineNumber - 1]!.slice(11)}`;
    const result = await decryptFile(lines.join("\n"));
    expect("error" in result && result.error.code).toBe("MALFORMED");
    expect("error" in result && result.error.message).toContain(`line ${lineNumber}: a character outside base64`);
    // Found in one pass, once decryption got there; everything released came before that line.
    expect("error" in result && result.released).toBeGreaterThan(0);
    expect("error" in result && result.released * 64 * 1024).toBeLessThan(((lineNumber - 2) * 48 * 64 * 1024) / (64 * 1024 + 16));
  });

  it("the same in a file of another shape (data after END): MALFORMED before any plaintext", async () => {
    const lines = armored.split("\n");
    lines[lineNumber - 1] = `${lines[lineNumber - 1]!.slice(0, 10)}*${lines[lineNumber - 1]!.slice(11)}`;
    const result = await decryptFile(`${lines.join("\n")}trailing`);
    expect("error" in result && result.error.code).toBe("MALFORMED");
    expect("error" in result && result.error.message).toContain(`line ${lineNumber}: a character outside base64`);
    expect("error" in result && result.released).toBe(0);
  });

  it("data after the END line: MALFORMED before any plaintext", async () => {
    const result = await decryptFile(`${armored}trailing\n`);
    expect("error" in result && result.error.code).toBe("MALFORMED");
    expect("error" in result && result.error.message).toContain("data after the END line");
    expect("error" in result && result.released).toBe(0);
  });

  it("one CRLF line among LF lines: decrypts (its shape is not the usual one, so it is checked first)", async () => {
    const lines = armored.split("\n");
    lines[lineNumber - 1] = `${lines[lineNumber - 1]}\r`;
    const result = await decryptFile(lines.join("\n"));
    expect("plaintext" in result && result.plaintext.equals(plaintext)).toBe(true);
  });

  it("65 CRLF lines among LF lines, which look like one line more of the usual shape: refused, saying why", async () => {
    const lines = armored.split("\n");
    for (let index = 0; index < 65; index++) lines[lineNumber + index] = `${lines[lineNumber + index]}\r`;
    const result = await decryptFile(lines.join("\n"));
    expect("error" in result && result.error.code).toBe("MALFORMED");
    expect("error" in result && result.error.message).toContain("lines that mix LF and CRLF endings");
  });

  it("cut short: MALFORMED, before any plaintext", async () => {
    const result = await decryptFile(armored.slice(0, armored.length - 200));
    expect("error" in result && result.error.code).toBe("MALFORMED");
    expect("error" in result && result.error.message).toMatch(/malformed ASCII armor \(line \d+: /);
    expect("error" in result && result.released).toBe(0);
  });
});
