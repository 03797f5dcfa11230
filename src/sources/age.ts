import { openPlaintext, type Plaintext } from "../age/decrypt.js";
import { inputName, type CiphertextInput } from "../age/input.js";
import { NoIdentityMatchedError } from "../age/no-identity-matched.js";
import { AgebootError } from "../errors.js";
import { noMatchMessage } from "../identities/no-match.js";
import type { LoadedIdentity } from "../identities/types.js";

/**
 * An age file opened with the host's identities: what `activate` stages and
 * `decrypt` prints. When no identity matches, the error lists the file's
 * recipients and every identity tried, with where each came from.
 */
export async function openAgeFile(input: CiphertextInput, identities: readonly LoadedIdentity[]): Promise<Plaintext> {
  try {
    return await openPlaintext(
      input,
      identities.map(({ identity }) => identity),
    );
  } catch (error) {
    if (error instanceof NoIdentityMatchedError) {
      throw new AgebootError("NO_MATCH", `${inputName(input)}: ${noMatchMessage(error.stanzas, identities)}`, { cause: error });
    }
    throw error;
  }
}

/** Decrypt a whole age file into memory with the host's identities. */
export async function decryptAgeFile(input: CiphertextInput, identities: readonly LoadedIdentity[]): Promise<Buffer> {
  const plaintext = await openAgeFile(input, identities);
  const chunks: Buffer[] = [];
  await plaintext.pipeTo((chunk) => void chunks.push(chunk));
  return Buffer.concat(chunks);
}
