// Interop with the reference implementation: keys from the real ssh-keygen and
// age-keygen, files from the real age (Debian package "age"), decrypted by ageboot.
import { Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptAgeFile } from "../../src/sources/age.js";
import { loadIdentities } from "../../src/identities/load.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import { tempDir } from "../helpers/temp-dir.js";
import { ageEncrypt, ageKeygen, run, sshKeygen } from "../helpers/tools.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

interface KeyCase {
  label: string;
  path: string;
  recipientArgs: ["-R" | "-r", string];
}

type SshSpec = { label: string; type: "ed25519" | "rsa"; bits?: number; format?: "PEM" | "PKCS8" };
const sshSpecs: SshSpec[] = [
  { label: "ed25519-openssh", type: "ed25519" },
  ...[2048, 3072, 4096].flatMap((bits): SshSpec[] => [
    { label: `rsa${bits}-openssh`, type: "rsa", bits },
    { label: `rsa${bits}-pem`, type: "rsa", bits, format: "PEM" },
  ]),
  { label: "rsa2048-pkcs8", type: "rsa", bits: 2048, format: "PKCS8" },
];
const keyLabels = [...sshSpecs.map((spec) => spec.label), "age-x25519"];

const keys = new Map<string, KeyCase>();
let others: Array<["-R" | "-r", string]> = [];

beforeAll(() => {
  for (const { label, type, ...options } of sshSpecs) {
    const path = sshKeygen(dir, label, type, options);
    keys.set(label, { label, path, recipientArgs: ["-R", `${path}.pub`] });
  }
  const [agePath, ageRecipient] = ageKeygen(dir, "age-x25519");
  keys.set("age-x25519", { label: "age-x25519", path: agePath, recipientArgs: ["-r", ageRecipient] });

  // Recipients that are not ours, put first in multi-recipient files.
  others = [
    ["-R", `${sshKeygen(dir, "other-ed25519", "ed25519")}.pub`],
    ["-R", `${sshKeygen(dir, "other-rsa", "rsa", { bits: 2048 })}.pub`],
    ["-r", ageKeygen(dir, "other-age")[1]],
  ];
}, 120_000);

async function identitiesOf(path: string): Promise<LoadedIdentity[]> {
  const set = await loadIdentities([path]);
  expect(set.warnings).toEqual([]);
  return set.identities;
}

function decryptWith(ciphertext: Buffer, identities: LoadedIdentity[]): Promise<Buffer> {
  const file = join(dir, `ct-${randomBytes(6).toString("hex")}.age`);
  writeFileSync(file, ciphertext);
  return decryptAgeFile({ file }, identities);
}

// age's payload is made of 64 KiB chunks: sizes at and around the boundary matter.
const payloadSizes = [0, 1, 65_536, 65_537, 2 * 65_536];

describe("files made by the reference age decrypt byte for byte", () => {
  it.each(keyLabels)("%s: every payload size, binary and armored, alone and among others", async (label) => {
    const key = keys.get(label)!;
    const identities = await identitiesOf(key.path);
    for (const size of payloadSizes) {
      const plaintext = randomBytes(size);
      for (const armor of [false, true]) {
        const alone = ageEncrypt(plaintext, [key.recipientArgs], armor);
        expect((await decryptWith(alone, identities)).equals(plaintext), `${key.label} ${size} B armor=${armor}`).toBe(true);
        const amongOthers = ageEncrypt(plaintext, [...others, key.recipientArgs], armor);
        expect((await decryptWith(amongOthers, identities)).equals(plaintext), `${key.label} ${size} B among others`).toBe(true);
      }
    }
  });

  it.each(["ed25519-openssh", "rsa4096-pem", "age-x25519"])("%s: a payload of several MiB (many chunks plus a partial one)", async (label) => {
    const key = keys.get(label)!;
    const plaintext = randomBytes(5 * 1024 * 1024 + 12_345);
    const ciphertext = ageEncrypt(plaintext, [...others, key.recipientArgs]);
    expect((await decryptWith(ciphertext, await identitiesOf(key.path))).equals(plaintext)).toBe(true);
  });

  it("an ed25519 host key also decrypts files encrypted to its age1 recipient (ssh-to-age, as sops-nix uses)", async () => {
    const key = keys.get("ed25519-openssh")!;
    const identities = await identitiesOf(key.path);
    const derived = identities.find((identity) => identity.type === "X25519")!;
    expect(derived.fingerprint).toBe(montgomeryRecipientOf(`${key.path}.pub`));
    const plaintext = randomBytes(1000);
    const ciphertext = ageEncrypt(plaintext, [others[2]!, ["-r", derived.fingerprint]]);
    expect((await decryptWith(ciphertext, identities)).equals(plaintext)).toBe(true);
  });

  it("several identity paths: the one that matches is found whatever its position", async () => {
    const all = await loadIdentities([...keys.values()].map((key) => key.path));
    expect(all.warnings).toEqual([]);
    const plaintext = randomBytes(333);
    for (const key of keys.values()) {
      expect((await decryptWith(ageEncrypt(plaintext, [key.recipientArgs]), all.identities)).equals(plaintext)).toBe(true);
    }
  });

  it("a post-quantum hybrid identity (AGE-SECRET-KEY-PQ-1) decrypts through age-encryption", async () => {
    // Debian's age (1.1.x) predates post-quantum keys, so this file is made by
    // age-encryption itself: a library round trip, not reference interop.
    const identity = await generateHybridIdentity();
    const path = join(dir, "pq-identity.txt");
    writeFileSync(path, `# post-quantum\n${identity}\n`, { mode: 0o600 });
    const encrypter = new Encrypter();
    encrypter.addRecipient(await identityToRecipient(identity));
    const plaintext = randomBytes(70_000);
    const identities = await identitiesOf(path);
    expect(identities.map((loaded) => loaded.type)).toEqual(["mlkem768x25519"]);
    expect((await decryptWith(Buffer.from(await encrypter.encrypt(plaintext)), identities)).equals(plaintext)).toBe(true);
  });

  it("an age identity file with comments, blank lines and several keys", async () => {
    const [firstPath, firstRecipient] = ageKeygen(dir, "multi-a");
    const [secondPath, secondRecipient] = ageKeygen(dir, "multi-b");
    const combined = join(dir, "multi-keys.txt");
    writeFileSync(combined, `# two keys\n\n${run("cat", [firstPath])}\n   \n${run("cat", [secondPath])}`, { mode: 0o600 });
    const identities = await identitiesOf(combined);
    expect(identities.map((identity) => identity.fingerprint)).toEqual([firstRecipient, secondRecipient]);
    const plaintext = randomBytes(64);
    expect((await decryptWith(ageEncrypt(plaintext, [["-r", secondRecipient]]), identities)).equals(plaintext)).toBe(true);
  });
});

/**
 * The age1 recipient of an ed25519 public key, computed independently of the
 * code under test: the birational map u = (1 + y) / (1 - y) mod p (RFC 7748),
 * as ssh-to-age does, then bech32 by the reference age-keygen's own rules
 * (checked through age: it must accept it as a recipient).
 */
function montgomeryRecipientOf(publicKeyPath: string): string {
  const [, blob] = run("cat", [publicKeyPath]).toString().split(" ");
  const wire = Buffer.from(blob!, "base64");
  const point = wire.subarray(wire.length - 32);
  const p = 2n ** 255n - 19n;
  const littleEndian = Buffer.from(point).reverse();
  littleEndian[0]! &= 0x7f; // drop the sign bit of x
  const y = BigInt(`0x${littleEndian.toString("hex")}`);
  const inverse = (value: bigint) => modPow(((value % p) + p) % p, p - 2n, p);
  const u = ((1n + y) * inverse(1n - y)) % p;
  const uBytes = Buffer.from(u.toString(16).padStart(64, "0"), "hex").reverse();
  return bech32Encode("age", uBytes);
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  for (let b = base, e = exponent; e > 0n; e >>= 1n, b = (b * b) % modulus) if (e & 1n) result = (result * b) % modulus;
  return result;
}

// BIP-173 bech32, written out here so the test does not share the encoder it checks.
function bech32Encode(prefix: string, data: Buffer): string {
  const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  const words: number[] = [];
  let accumulator = 0;
  let bits = 0;
  for (const byte of data) {
    accumulator = (accumulator << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((accumulator >> bits) & 31);
    }
  }
  if (bits > 0) words.push((accumulator << (5 - bits)) & 31);
  const polymod = (values: number[]) => {
    const generators = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let checksum = 1;
    for (const value of values) {
      const top = checksum >> 25;
      checksum = ((checksum & 0x1ffffff) << 5) ^ value;
      for (let i = 0; i < 5; i++) if ((top >> i) & 1) checksum ^= generators[i]!;
    }
    return checksum;
  };
  const expanded = [...prefix]
    .map((c) => c.charCodeAt(0) >> 5)
    .concat(
      [0],
      [...prefix].map((c) => c.charCodeAt(0) & 31),
    );
  const mod = polymod([...expanded, ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >> (5 * (5 - i))) & 31);
  return `${prefix}1${[...words, ...checksum].map((word) => charset[word]).join("")}`;
}
