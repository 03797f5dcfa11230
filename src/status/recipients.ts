import { readHeader } from "../age/decrypt.js";
import { unwrapFileKey } from "../age/file-key.js";
import { parseHeader } from "../age/header.js";
import { NoIdentityMatchedError } from "../age/no-identity-matched.js";
import { AgebootError, describeCause } from "../errors.js";
import { type IdentitySet, loadIdentities } from "../identities/load.js";
import { noMatchMessage } from "../identities/no-match.js";
import { describeIdentity, type LoadedIdentity } from "../identities/types.js";
import type { SecretSpec } from "../manifest/types.js";
import { openTrustedCiphertext } from "../sources/trusted-ciphertext.js";
import type { Finding, RecipientCheck } from "./report.js";

/**
 * Whether activation could open a declared secret's file, told from its
 * header alone: the file is opened as activation opens it (refused if a user
 * other than root could have changed it), its header is read (never its
 * payload), and each host identity in turn tries to unwrap the file key from
 * the recipient stanzas, as activation's header step does, with the header
 * MAC checked. SSH identities only try stanzas that carry their key's tag;
 * X25519 stanzas name no recipient, so unwrapping is the only way to tell
 * whether one is for this host. The file key is zeroed at once; nothing of
 * the payload is decrypted, so status holds no plaintext.
 */
export class RecipientChecker {
  private identities: Promise<IdentitySet> | null = null;

  constructor(
    private readonly identityPaths: readonly string[],
    private readonly uid: number,
  ) {}

  /** The one finding about the host's identities themselves (unreadable, none usable), if any; after check(). */
  async identityFinding(): Promise<Finding | null> {
    if (this.identities === null) return null;
    const { identities, warnings } = await this.identities;
    if (identities.length > 0) return null;
    if (this.uid !== 0) {
      return {
        severity: "unchecked",
        subject: "identities",
        message: `the host's keys (${this.identityPaths.join(", ")}) could not be read as uid ${this.uid}; run as root to check recipients`,
      };
    }
    const why = warnings.map((warning) => `${warning.path}: ${warning.message}`).join("; ");
    return {
      severity: "problem",
      subject: "identities",
      message: `no usable identity in ${this.identityPaths.join(", ") || "(no identity paths)"}: activation would stop (exit 3)${why ? ` (${why})` : ""}`,
    };
  }

  /** The check for one secret, and the finding it makes (null when it matches, or when identityFinding says it all). */
  async check(secret: SecretSpec): Promise<{ check: RecipientCheck; finding: Finding | null }> {
    const subject = `secret ${secret.name}`;
    if (secret.format !== "age") {
      return { check: { state: "not-applicable", detail: `a sops ${secret.format} file: status reads age headers only; ageboot check reads its recipients` }, finding: null };
    }
    let header: Buffer;
    try {
      header = await readHeader({ descriptor: openTrustedCiphertext(secret.file), name: secret.file });
    } catch (error) {
      const denied = isPermissionDenied(error);
      const detail = error instanceof AgebootError ? error.message : `file ${secret.file}: ${describeCause(error)}`;
      if (denied) return { check: { state: "unknown", detail }, finding: { severity: "unchecked", subject, message: detail } };
      return { check: { state: "bad-file", detail }, finding: { severity: "problem", subject, message: detail } };
    }
    const { identities } = await this.loaded();
    if (identities.length === 0) {
      const detail = this.uid === 0 ? "no usable identity" : "the host's keys could not be read";
      return { check: this.uid === 0 ? { state: "no-match", detail } : { state: "unknown", detail }, finding: null };
    }
    for (const identity of identities) {
      try {
        const fileKey = await unwrapFileKey(header, [identity.identity]);
        fileKey.fill(0);
        return { check: { state: "match", identity: describeIdentity(identity), key: shortKey(identity) }, finding: null };
      } catch (error) {
        if (error instanceof NoIdentityMatchedError) continue;
        const detail = `${secret.file}: ${error instanceof AgebootError ? error.message : describeCause(error)}`;
        return { check: { state: "bad-file", detail }, finding: { severity: "problem", subject, message: detail } };
      }
    }
    const detail = `${secret.file}: ${noMatchMessage(parseHeader(header).stanzas, identities)}`;
    const { warnings } = await this.loaded();
    // As another user, a key that could not be read may be the one that matches.
    if (this.uid !== 0 && warnings.length > 0) return { check: { state: "unknown", detail }, finding: { severity: "unchecked", subject, message: detail } };
    return { check: { state: "no-match", detail }, finding: { severity: "problem", subject, message: detail } };
  }

  private loaded(): Promise<IdentitySet> {
    this.identities ??= loadIdentities(this.identityPaths);
    return this.identities;
  }
}

/** The key a file opens with, in a table cell: its type and SSH tag, or its type and file. */
function shortKey(identity: LoadedIdentity): string {
  return identity.tag ? `${identity.type} ${identity.tag}` : `${identity.type} ${identity.path.split("/").pop()}`;
}

function isPermissionDenied(error: unknown): boolean {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") return true;
  }
  return false;
}
