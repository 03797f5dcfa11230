import { parseHeader, verifyHeaderMac } from "./header.js";
import type { AgeIdentity } from "./identity.js";
import { NoIdentityMatchedError } from "./no-identity-matched.js";

/**
 * Unwrap the file key and verify the header MAC. Identity objects (SSH and
 * X25519 keys) run on our header parser; post-quantum identities, which
 * age-encryption keeps as strings, go through its own header path.
 */
export async function unwrapFileKey(header: Buffer, identities: readonly AgeIdentity[]): Promise<Uint8Array> {
  const parsed = parseHeader(header);
  for (const identity of identities) {
    if (typeof identity === "string") continue;
    const fileKey = await identity.unwrapFileKey(parsed.stanzas);
    if (fileKey !== null) {
      verifyHeaderMac(parsed, fileKey);
      return fileKey;
    }
  }
  const libraryIdentities = identities.filter((identity): identity is string => typeof identity === "string");
  if (libraryIdentities.length > 0) {
    const { Decrypter } = await import("age-encryption");
    const decrypter = new Decrypter();
    for (const identity of libraryIdentities) decrypter.addIdentity(identity);
    try {
      return await decrypter.decryptHeader(header);
    } catch (error) {
      if (error instanceof Error && error.message === "no identity matched any of the file's recipients") throw new NoIdentityMatchedError(parsed.stanzas);
      throw error;
    }
  }
  throw new NoIdentityMatchedError(parsed.stanzas);
}
