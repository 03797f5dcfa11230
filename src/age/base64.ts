const base64Alphabet = /^[A-Za-z0-9+/]*$/;

/**
 * Decode unpadded, canonical standard base64, as the age format requires for
 * stanza arguments and bodies. Node's decoder is lenient (it skips invalid
 * characters and ignores non-zero trailing bits), so a round trip proves the
 * encoding canonical, as the reference implementation does.
 */
export function decodeCanonicalBase64(text: string): Buffer | null {
  if (!base64Alphabet.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64").replace(/=+$/, "") === text ? bytes : null;
}

export function encodeBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}
