import { bech32 } from "@scure/base";

/** The field prime of Curve25519 and Ed25519, 2^255 - 19. */
const P = 2n ** 255n - 19n;

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

/**
 * The age1… recipient of an ed25519 public key, as ssh-to-age computes it
 * (Mic92/ssh-to-age convert.go, via filippo.io/edwards25519 BytesMontgomery):
 * the Edwards y coordinate (little-endian, sign bit cleared) mapped to the
 * Montgomery u = (1 + y) / (1 - y) mod p, little-endian, bech32 with "age".
 * This is the recipient sops-nix hosts are encrypted to.
 */
export function ageRecipientOfEd25519(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new Error("an ed25519 public key is 32 bytes");
  const bytes = Buffer.from(publicKey);
  bytes[31]! &= 0x7f;
  const y = BigInt(`0x${Buffer.from(bytes).reverse().toString("hex")}`);
  if (y >= P || (1n - y + P) % P === 0n) throw new Error("not a valid ed25519 public key");
  const u = ((1n + y) * power((1n - y + P) % P, P - 2n)) % P;
  const uBytes = Buffer.from(u.toString(16).padStart(64, "0"), "hex").reverse();
  return bech32.encode("age", bech32.toWords(uBytes), false);
}
