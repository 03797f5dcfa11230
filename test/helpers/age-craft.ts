import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { createCipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Build age files with payloads no honest encryptor writes (an empty final
 * chunk after a full one, a final chunk without its flag, ...). The header and
 * file key come from age-encryption; the payload is re-encrypted here with
 * Node's ChaCha20-Poly1305, chunk by chunk, as the test describes it.
 */
export async function craftingIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

export interface CraftedChunk {
  plaintext: Buffer;
  final: boolean;
}

export async function craftFile(identity: string, recipient: string, chunks: CraftedChunk[]): Promise<Buffer> {
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const honest = Buffer.from(await encrypter.encrypt(new Uint8Array(0)));
  const headerEnd = honest.indexOf("\n", honest.indexOf("\n---") + 1) + 1;
  const header = honest.subarray(0, headerEnd);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  const fileKey = await decrypter.decryptHeader(header);
  const nonce = randomBytes(16);
  const key = Buffer.from(hkdfSync("sha256", fileKey, nonce, "payload", 32));
  const encrypted = chunks.map(({ plaintext, final }, index) => {
    const chunkNonce = Buffer.alloc(12);
    chunkNonce.writeUIntBE(index, 5, 6);
    chunkNonce[11] = final ? 1 : 0;
    const cipher = createCipheriv("chacha20-poly1305", key, chunkNonce, { authTagLength: 16 });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  });
  return Buffer.concat([header, nonce, ...encrypted]);
}
