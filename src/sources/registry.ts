import type { Plaintext } from "../age/decrypt.js";
import type { LoadedIdentity } from "../identities/types.js";
import type { SecretFormat, SecretSource } from "../manifest/types.js";
import { SopsSession } from "../sops/session.js";
import { openAgeFile } from "./age.js";
import { openSopsSecret } from "./sops.js";
import { openTrustedCiphertext } from "./trusted-ciphertext.js";

/**
 * Where "a secret's source yields plaintext" is decided, per secret: the
 * stage step asks this registry, by the secret's `format`, for its plaintext.
 * A source checks what it can before any output exists (for age: that the
 * header is for one of our identities and authenticates; for sops: the data
 * key, every value and the MAC) and returns the plaintext ready to stream.
 * A new format is one more entry here and one more value of SecretFormat.
 *
 * `SourceSession` is what sources share during one run on one thread: the
 * identities, and the sops files already opened (each once per run).
 */
export class SourceSession {
  readonly sops: SopsSession;

  constructor(readonly identities: readonly LoadedIdentity[]) {
    this.sops = new SopsSession(identities);
  }

  /** Zero what the run decrypted into memory. */
  close(): void {
    this.sops.close();
  }
}

type Opener = (source: SecretSource, session: SourceSession) => Promise<Plaintext>;

const sops: Opener = (source, session) => openSopsSecret(source.file, source.format as Exclude<SecretFormat, "age">, source.key ?? "", session.sops);

const openers: Record<SecretFormat, Opener> = {
  age: (source, session) => openAgeFile({ descriptor: openTrustedCiphertext(source.file), name: source.file }, session.identities),
  yaml: sops,
  json: sops,
  dotenv: sops,
  ini: sops,
  binary: sops,
};

export function openSecret(source: SecretSource, session: SourceSession): Promise<Plaintext> {
  return openers[source.format](source, session);
}

/** Whether secrets of this source share work per file (and so must be staged on one thread). */
export function sharesFile(source: SecretSource): boolean {
  return source.format !== "age";
}
