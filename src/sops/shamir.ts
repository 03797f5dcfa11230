import { AgebootError } from "../errors.js";

/** Multiplication in GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1, as sops' shamir package (from Vault) does. */
function multiply(a: number, b: number): number {
  let product = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) product ^= a;
    const carry = a & 0x80;
    a = (a << 1) & 0xff;
    if (carry) a ^= 0x1b;
    b >>= 1;
  }
  return product;
}

/** a^254 = a^-1 in GF(2^8). */
function inverse(a: number): number {
  let result = 1;
  for (let i = 0; i < 254; i++) result = multiply(result, a);
  return result;
}

/**
 * Rebuild a secret from Shamir shares (sops shamir/shamir.go Combine): each
 * share is its y bytes followed by its x coordinate; every byte is the value
 * at 0 of the polynomial through the shares (Lagrange interpolation).
 */
export function combineShares(shares: readonly Buffer[]): Buffer {
  if (shares.length < 2) throw new AgebootError("CORRUPT", "fewer than two key groups could be opened, and Shamir needs at least two shares");
  const length = shares[0]!.length;
  if (length < 2 || shares.some((share) => share.length !== length)) throw new AgebootError("CORRUPT", "the Shamir shares of the key groups differ in length");
  const xs = shares.map((share) => share[length - 1]!);
  if (new Set(xs).size !== xs.length) throw new AgebootError("CORRUPT", "two key groups hold the same Shamir share");
  const inverses = new Map<number, number>();
  const inv = (value: number) => inverses.get(value) ?? inverses.set(value, inverse(value)).get(value)!;
  const basis = xs.map((xi, i) => xs.reduce((acc, xj, j) => (i === j ? acc : multiply(acc, multiply(xj, inv(xi ^ xj)))), 1));
  const secret = Buffer.alloc(length - 1);
  for (let index = 0; index < secret.length; index++) {
    let value = 0;
    for (const [i, share] of shares.entries()) value ^= multiply(share[index]!, basis[i]!);
    secret[index] = value;
  }
  return secret;
}
