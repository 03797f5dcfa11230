import { AgebootError, describeCause } from "../errors.js";
import { NoIdentityMatchedError } from "./no-identity-matched.js";

/** What age-encryption's header error texts mean for a user, and their class. */
const headerFailures: Array<[RegExp, AgebootError["code"], string]> = [
  [/^invalid header HMAC/, "CORRUPT", "header MAC does not verify: the header was modified, or the file is corrupt"],
  [/^invalid version/, "MALFORMED", "not an age file (no age-encryption.org/v1 version line)"],
  [/^invalid (stanza|header)|non-ASCII byte in header|^stream ended/, "MALFORMED", "malformed or truncated age header"],
  [/^invalid (X25519|mlkem768x25519|scrypt) stanza|^scrypt/, "MALFORMED", "malformed recipient stanza"],
];

/**
 * Turn anything decryption threw into an AgebootError naming the input and the
 * cause, of the class a user can act on. Once the header has verified, every
 * payload error means the ciphertext does not authenticate, whatever words
 * were used for it. A NoIdentityMatchedError stays one, with its stanzas.
 */
export function explainFailure(name: string, error: unknown, phase: "header" | "payload"): AgebootError {
  if (error instanceof NoIdentityMatchedError) return error;
  if (error instanceof AgebootError) return new AgebootError(error.code, `${name}: ${error.message}`, { cause: error });
  const message = describeCause(error);
  if ((error as NodeJS.ErrnoException).code !== undefined) {
    return new AgebootError("IO", `${name}: cannot ${phase === "payload" ? "write the plaintext" : "read"} (${message})`, { cause: error });
  }
  if (phase === "payload") {
    return new AgebootError("CORRUPT", `${name}: payload does not authenticate: the file is truncated, corrupted or tampered with (${message})`, { cause: error });
  }
  for (const [pattern, code, meaning] of headerFailures) {
    if (pattern.test(message)) return new AgebootError(code, `${name}: ${meaning} (${message})`, { cause: error });
  }
  return new AgebootError("MALFORMED", `${name}: cannot decrypt (${message})`, { cause: error });
}
