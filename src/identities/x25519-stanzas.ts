import type { Identity, Stanza } from "age-encryption";
import type { KeyObject } from "node:crypto";
import { decodeCanonicalBase64 } from "../age/base64.js";
import { hkdfSha256, unwrapFileKey, x25519, X25519_KEY_SIZE } from "../age/x25519.js";
import { AgebootError } from "../errors.js";

/**
 * Everything the handler of an X25519-based stanza needs, computed once per key so that
 * the per-file work is two scalar multiplications, one HKDF and one AEAD open.
 */
export interface X25519StanzaKeys {
  /** Stanza type, e.g. "X25519" or "ssh-ed25519". */
  readonly stanzaType: string;
  /** HKDF info label for the wrapping key. */
  readonly label: string;
  readonly ourPrivateKey: KeyObject;
  /** Our X25519 public key, the second half of the HKDF salt. */
  readonly ourPublicKey: Uint8Array;
  /** ssh-ed25519 only: the stanza tag that selects our key, and the tweak scalar. */
  readonly tag?: string;
  readonly tweak?: KeyObject;
}

function malformed(stanzaType: string, why: string): AgebootError {
  return new AgebootError("MALFORMED", `invalid ${stanzaType} stanza: ${why}`);
}

/**
 * An age Identity for the X25519 construction and its ssh-ed25519 variant
 * (age spec, "X25519 recipient stanza" and the SSH section). Like the reference,
 * a stanza of our type that is malformed aborts decryption, while a stanza for
 * another key (other tag, or a wrapping key that does not authenticate) is skipped.
 */
export class X25519StanzaIdentity implements Identity {
  constructor(private readonly keys: X25519StanzaKeys) {}

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    const { stanzaType, label, ourPrivateKey, ourPublicKey, tag, tweak } = this.keys;
    const expectedArgs = tag === undefined ? 2 : 3;
    for (const stanza of stanzas) {
      if (stanza.args[0] !== stanzaType) continue;
      if (stanza.args.length !== expectedArgs) {
        throw malformed(stanzaType, `expected ${expectedArgs - 1} arguments, found ${stanza.args.length - 1}`);
      }
      const share = decodeCanonicalBase64(stanza.args[expectedArgs - 1]!);
      if (share === null || share.length !== X25519_KEY_SIZE) {
        throw malformed(stanzaType, "ephemeral share is not 32 bytes of canonical base64");
      }
      if (tag !== undefined && stanza.args[1] !== tag) continue;

      let shared = x25519(ourPrivateKey, share);
      if (shared === null) throw malformed(stanzaType, "ephemeral share is a low-order point");
      if (tweak !== undefined) {
        shared = x25519(tweak, shared);
        if (shared === null) throw malformed(stanzaType, "tweaked shared secret is zero");
      }
      const wrappingKey = hkdfSha256(shared, Buffer.concat([share, ourPublicKey]), label);
      const unwrapped = unwrapFileKey(wrappingKey, stanza.body);
      if (unwrapped === null) continue; // wrapped for another key
      if ("wrongSize" in unwrapped) throw malformed(stanzaType, "body is not a wrapped 16-byte file key");
      return unwrapped.fileKey;
    }
    return null;
  }
}
