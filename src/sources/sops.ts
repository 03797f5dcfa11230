import type { Plaintext } from "../age/decrypt.js";
import type { SopsFormat } from "../sops/document.js";
import type { SopsSession } from "../sops/session.js";
import { openTrustedCiphertext } from "./trusted-ciphertext.js";

/**
 * A secret from a sops file, through the run's session, which opens each sops
 * file once. The plaintext is already in memory (a sops file is bounded); it
 * is handed out as a Plaintext so staging treats it like any other source.
 */
export async function openSopsSecret(file: string, format: SopsFormat, key: string, session: SopsSession): Promise<Plaintext> {
  const bytes = await session.secret(file, format, key, () => openTrustedCiphertext(file));
  return bufferPlaintext(bytes);
}

export function bufferPlaintext(bytes: Buffer): Plaintext {
  return {
    size: bytes.length,
    pipeTo: async (sink) => {
      if (bytes.length > 0) await sink(bytes);
    },
    close: async () => {},
  };
}
