// `ageboot recipient` against keys from the real ssh-keygen. The expected
// recipient is computed independently of the product's Edwards-to-Montgomery
// map: from the private key, as ssh-to-age converts it (X25519 secret =
// first half of SHA-512(seed)), with Node's own X25519 giving the public key.
// (ssh-to-age itself is not installable here.)
import { bech32 } from "@scure/base";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import sshpk from "sshpk";
import { afterAll, describe, expect, it } from "vitest";
import { runAgeboot } from "../helpers/ageboot-process.js";
import { tempDir } from "../helpers/temp-dir.js";
import { sshKeygen } from "../helpers/tools.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function expectedRecipient(privateKeyPath: string): string {
  const key = sshpk.parsePrivateKey(readFileSync(privateKeyPath), "auto");
  const seed = (key.part as unknown as Record<string, { data: Buffer }>)["k"]!.data;
  const scalar = createHash("sha512").update(seed).digest().subarray(0, 32);
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), scalar]);
  const publicKey = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }))
    .export({ format: "der", type: "spki" })
    .subarray(-32);
  return bech32.encode("age", bech32.toWords(publicKey), false);
}

describe("ageboot recipient", () => {
  it("prints what ssh-to-age prints, for ten random ed25519 keys, from the public and the private key", () => {
    const paths = Array.from({ length: 10 }, (_, index) => sshKeygen(dir, `host${index}`, "ed25519"));
    const expected = paths.map(expectedRecipient);
    const fromPublic = runAgeboot(["recipient", ...paths.map((path) => `${path}.pub`)]);
    expect(fromPublic.status, fromPublic.stderr).toBe(0);
    expect(fromPublic.stdout.trim().split("\n")).toEqual(expected);
    const fromPrivate = runAgeboot(["recipient", ...paths.flatMap((path) => ["-i", path])]);
    expect(fromPrivate.status, fromPrivate.stderr).toBe(0);
    expect(fromPrivate.stdout.trim().split("\n")).toEqual(expected);
  });

  it("refuses an RSA key with a message that says what to use instead", () => {
    const rsa = sshKeygen(dir, "rsa", "rsa", { bits: 2048 });
    const result = runAgeboot(["recipient", `${rsa}.pub`]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("rsa key has no age1... recipient");
  });
});
