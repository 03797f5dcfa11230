import { AgebootError } from "../errors.js";
import { parseHeader, verifyHeaderMac, type Stanza } from "./header.js";
import type { AgeIdentity } from "./identity.js";
import { MAX_POST_QUANTUM_STANZAS } from "./limits.js";
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
    refuseCostlyPostQuantumWork(parsed.stanzas);
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

/** Each mlkem768x25519 stanza costs milliseconds of JavaScript key agreement: refuse a header that asks for too many. */
function refuseCostlyPostQuantumWork(stanzas: readonly Stanza[]): void {
  const count = stanzas.filter((stanza) => stanza.args[0] === "mlkem768x25519").length;
  if (count > MAX_POST_QUANTUM_STANZAS) {
    throw new AgebootError("MALFORMED", `malformed age header (${count} mlkem768x25519 stanzas; ageboot tries at most ${MAX_POST_QUANTUM_STANZAS}, see src/age/limits.ts)`);
  }
}
