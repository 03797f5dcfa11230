import type { Plaintext } from "../age/decrypt.js";
import type { LoadedIdentity } from "../identities/types.js";
import type { SecretFormat, SecretSource } from "../manifest/types.js";
import { openAgeFile } from "./age.js";
import { openTrustedCiphertext } from "./trusted-ciphertext.js";

/**
 * Where "a secret's source yields plaintext" is decided, per secret: the
 * stage step asks this registry, by the secret's `format`, for its plaintext.
 * A source checks what it can before any output exists (for age: that the
 * header is for one of our identities and authenticates) and returns the
 * plaintext ready to stream. A new format (sops files, templates) is one more
 * entry here and one more value of SecretFormat; the compiler then asks for it.
 */
type Opener = (source: SecretSource, identities: readonly LoadedIdentity[]) => Promise<Plaintext>;

const openers: Record<SecretFormat, Opener> = {
  age: (source, identities) => openAgeFile({ descriptor: openTrustedCiphertext(source.file), name: source.file }, identities),
};

export function openSecret(source: SecretSource, identities: readonly LoadedIdentity[]): Promise<Plaintext> {
  return openers[source.format](source, identities);
}
