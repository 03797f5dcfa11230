import type { Identity, Stanza } from "age-encryption";
import { constants, privateDecrypt, type KeyObject } from "node:crypto";
import { AgebootError } from "../errors.js";

const RSA_OAEP_LABEL = Buffer.from("age-encryption.org/v1/ssh-rsa");

/** What the ssh-rsa stanza handler needs, computed once per key; plain data, so it can go to a worker thread. */
export interface SshRsaKey {
  readonly privateKey: KeyObject;
  readonly tag: string;
  readonly modulusBytes: number;
}

/** The age ssh-rsa recipient type (age spec): RSA-OAEP with SHA-256 and the age label. */
export class SshRsaIdentity implements Identity {
  constructor(private readonly key: SshRsaKey) {}

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    const { privateKey, tag, modulusBytes } = this.key;
    for (const stanza of stanzas) {
      if (stanza.args[0] !== "ssh-rsa") continue;
      if (stanza.args.length !== 2) {
        throw new AgebootError("MALFORMED", `invalid ssh-rsa stanza: expected 1 argument, found ${stanza.args.length - 1}`);
      }
      if (stanza.args[1] !== tag) continue;
      if (stanza.body.length !== modulusBytes) {
        throw new AgebootError("MALFORMED", `invalid ssh-rsa stanza: body is ${stanza.body.length} bytes, the key needs ${modulusBytes}`);
      }
      let fileKey: Buffer;
      try {
        fileKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: RSA_OAEP_LABEL }, stanza.body);
      } catch {
        // As in the reference: a stanza with our tag that does not decrypt is an error, not a mismatch.
        throw new AgebootError("CORRUPT", "ssh-rsa stanza for this key does not decrypt (RSA-OAEP failed)");
      }
      if (fileKey.length !== 16) throw new AgebootError("MALFORMED", "invalid ssh-rsa stanza: file key is not 16 bytes");
      return fileKey;
    }
    return null;
  }
}
