// Shamir key groups (sops' key_groups and shamir_threshold): files made by the
// test encoder (test/helpers/sops-craft.ts), whose splitter follows sops'
// shamir.Split (getsops/sops shamir/shamir.go: GF(2^8) with the AES
// polynomial, one share per key group, the x coordinate as the share's last
// byte), decrypted by ageboot's decoder with the keys of enough groups and of
// too few. Facts from sops: a file with several groups needs
// shamir_threshold of them (sops.go GetDataKeyWithKeyServices), shares with
// the same x are refused (shamir.Combine: "duplicate part detected"), and
// mult(3, 7) = 9 in its field (shamir_test.go).
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgebootError } from "../../src/errors.js";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";
import type { LoadedIdentity } from "../../src/identities/types.js";
import type { SopsFormat } from "../../src/sops/document.js";
import { SopsSession } from "../../src/sops/session.js";
import { combineShares } from "../../src/sops/shamir.js";
import { CANARY } from "../helpers/canary.js";
import { craftJson, craftYaml, splitSecret } from "../helpers/sops-craft.js";
import { tempDir } from "../helpers/temp-dir.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Three hosts' keys, one per key group. */
const identities: LoadedIdentity[][] = [];
const recipients: string[] = [];
beforeAll(async () => {
  for (let index = 0; index < 3; index++) {
    const identity = await generateX25519Identity();
    recipients.push(await identityToRecipient(identity));
    identities.push((await identitiesFromAgeFile(`${identity}\n`, `/test/group-${index + 1}.txt`)).identities);
  }
});

let counter = 0;
async function read(text: string, format: SopsFormat, key: string, groups: number[]): Promise<string> {
  const path = join(dir, `file-${counter++}`);
  writeFileSync(path, text);
  const session = new SopsSession(groups.flatMap((group) => identities[group]!));
  try {
    return (await session.secret(path, format, key, () => openSync(path, "r"))).toString("utf8");
  } finally {
    session.close();
  }
}

async function failure(text: string, format: SopsFormat, key: string, groups: number[]): Promise<string> {
  try {
    await read(text, format, key, groups);
  } catch (error) {
    expect(error).toBeInstanceOf(AgebootError);
    expect((error as Error).message).not.toContain(CANARY);
    return (error as Error).message;
  }
  throw new Error("expected a failure");
}

const tree = { db: { password: `pw-${CANARY}` }, token: `token-${CANARY}` };

describe("Shamir key groups", () => {
  it("combines shares as sops' field does (3 * 7 = 9 in GF(2^8)), in any order", () => {
    // f(x) = s + 3x: f(1) = s ^ 3, f(7) = s ^ mult(3, 7) = s ^ 9.
    const secret = Buffer.from([0x00, 0x2a, 0xff]);
    const at1 = Buffer.from([...secret.map((byte) => byte ^ 3), 1]);
    const at7 = Buffer.from([...secret.map((byte) => byte ^ 9), 7]);
    expect(combineShares([at1, at7])).toEqual(secret);
    expect(combineShares([at7, at1])).toEqual(secret);
    // And the encoder's split: any 3 of 5 shares give the secret back.
    const key = Buffer.from(Array.from({ length: 32 }, (_, index) => (index * 37) & 0xff));
    const shares = splitSecret(key, 5, 3);
    expect(combineShares([shares[4]!, shares[0]!, shares[2]!])).toEqual(key);
    expect(combineShares([shares[1]!, shares[3]!, shares[4]!])).toEqual(key);
  });

  it("opens a YAML file with 2 of 3 key groups (shamir_threshold 2), whichever two", async () => {
    const yaml = await craftYaml(tree, { recipients: [], keyGroups: recipients.map((recipient) => [recipient]), shamirThreshold: 2 });
    const metadata = parse(yaml).sops;
    expect(metadata.shamir_threshold).toBe(2);
    expect(metadata.key_groups).toHaveLength(3);
    expect(metadata.age).toBeUndefined();
    expect(await read(yaml, "yaml", "db/password", [0, 2])).toBe(`pw-${CANARY}`);
    expect(await read(yaml, "yaml", "token", [1, 2])).toBe(`token-${CANARY}`);
    expect(await read(yaml, "yaml", "token", [0, 1, 2])).toBe(`token-${CANARY}`);
  });

  it("refuses with too few groups' keys, saying how many opened and how many are needed", async () => {
    const yaml = await craftYaml(tree, { recipients: [], keyGroups: recipients.map((recipient) => [recipient]), shamirThreshold: 2 });
    const message = await failure(yaml, "yaml", "token", [1]);
    expect(message).toContain("1 of 3 key groups opened, 2 needed (Shamir)");
    expect(message).toContain("no identity matches");
    for (const recipient of recipients) expect(message).toContain(recipient);
    expect(await failure(yaml, "yaml", "token", [])).toContain("0 of 3 key groups opened, 2 needed (Shamir)");
  });

  it("JSON, the threshold left at sops' default (every group): all three open it, two do not", async () => {
    const json = await craftJson(tree, { recipients: [], keyGroups: recipients.map((recipient) => [recipient]) });
    expect(JSON.parse(json).sops.shamir_threshold).toBe(3);
    expect(await read(json, "json", "db/password", [0, 1, 2])).toBe(`pw-${CANARY}`);
    expect(await failure(json, "json", "db/password", [0, 2])).toContain("2 of 3 key groups opened, 3 needed (Shamir)");
  });

  it("a group holding another group's share is refused, as sops refuses duplicate parts", async () => {
    const yaml = await craftYaml(tree, { recipients: [], keyGroups: [[recipients[0]!], [recipients[1]!]], shamirThreshold: 2 });
    // Group 2's entry replaced by group 1's: both open (the host has key 1 only), with the same x.
    const document = parse(yaml);
    document.sops.key_groups[1].age = document.sops.key_groups[0].age;
    const message = await failure(stringify(document, { indent: 4, lineWidth: 0 }), "yaml", "token", [0]);
    expect(message).toBe("two key groups hold the same Shamir share");
  });
});
