import { decryptToBuffer, readStanzas } from "../age/decrypt.js";
import { NoIdentityMatchedError } from "../age/no-identity-matched.js";
import { AgebootError, describeCause } from "../errors.js";
import { sshTag } from "../identities/ssh-keys.js";
import { describeIdentity, type LoadedIdentity } from "../identities/types.js";
import { summarizeList } from "../summarize-list.js";
import { SOPS_LIMITS } from "./limits.js";
import type { AgeEntry, KeyGroup, SopsMetadata } from "./metadata.js";
import { combineShares } from "./shamir.js";

const DATA_KEY_BYTES = 32;
const RECIPIENTS_SHOWN = 10;

/**
 * The file's data key (sops.go GetDataKeyWithKeyServices): in each key
 * group, the first age entry one of our identities opens yields that group's
 * part; one group's part is the key, several groups' parts are Shamir shares
 * combined when at least `shamir_threshold` groups opened. Entries whose
 * recipient is one of our own (age1… fingerprints, SSH keys by tag) are tried
 * first, so a host usually decrypts one small age file per group.
 */
export async function unwrapDataKey(metadata: SopsMetadata, identities: readonly LoadedIdentity[]): Promise<Buffer> {
  const groups = metadata.keyGroups;
  if (groups.every((group) => group.age.length === 0)) {
    const kinds = [...new Set(groups.flatMap((group) => group.otherKinds))].join(", ");
    throw new AgebootError(
      "NO_MATCH",
      `this file can only be opened with PGP/KMS keys (${kinds}), which ageboot does not support; add an age recipient for this host (ageboot recipient) and run sops updatekeys`,
    );
  }
  const parts: Buffer[] = [];
  const failures: string[] = [];
  const stanzas = new StanzaBudget();
  for (const [index, group] of groups.entries()) {
    const part = await openGroup(group, identities, failures, stanzas);
    if (part !== null) parts.push(part);
    else if (groups.length > 1) failures.push(`key group ${index + 1} could not be opened`);
  }
  try {
    if (groups.length === 1) {
      if (parts.length !== 1) throw noMatch(groups, identities, failures);
      return checkedKey(parts[0]!);
    }
    const threshold = metadata.shamirThreshold;
    if (parts.length < threshold || parts.length < 2) {
      throw noMatch(groups, identities, [`${parts.length} of ${groups.length} key groups opened, ${Math.max(threshold, 2)} needed (Shamir)`, ...failures]);
    }
    return checkedKey(combineShares(parts));
  } finally {
    for (const part of parts) part.fill(0);
  }
}

function checkedKey(key: Buffer): Buffer {
  if (key.length !== DATA_KEY_BYTES) throw new AgebootError("CORRUPT", `the data key is ${key.length} bytes, not ${DATA_KEY_BYTES}`);
  return Buffer.from(key);
}

/**
 * Recipient stanzas tried over all the age entries of one file. Each entry's
 * header is bounded alone (src/age/limits.ts); this bounds their sum, which
 * 256 entries of 256 stanzas each made 65,536 key agreements per host key
 * (6.3 s with X25519 stanzas, 10 s with ssh-ed25519 ones carrying the host's
 * tag). Past it the file is refused, named, rather than tried further.
 */
class StanzaBudget {
  private tried = 0;

  spend(count: number): void {
    this.tried += count;
    if (this.tried > SOPS_LIMITS.stanzasPerFile) {
      throw new AgebootError(
        "MALFORMED",
        `the sops file's age entries hold more than ${SOPS_LIMITS.stanzasPerFile} recipient stanzas together (sops writes one per entry); refusing to try more`,
      );
    }
  }
}

async function openGroup(group: KeyGroup, identities: readonly LoadedIdentity[], failures: string[], stanzas: StanzaBudget): Promise<Buffer | null> {
  const ours = new Set(identities.flatMap((id) => [id.fingerprint, ...(id.tag ? [id.tag] : [])]));
  const isOurs = (entry: AgeEntry) => ours.has(entry.recipient) || ours.has(recipientTag(entry.recipient) ?? "");
  const ordered = [...group.age.filter(isOurs), ...group.age.filter((entry) => !isOurs(entry))];
  for (const entry of ordered) {
    const armored = entry.enc.endsWith("\n") ? entry.enc : `${entry.enc}\n`;
    const input = { bytes: Buffer.from(armored, "utf8"), name: `age entry for ${shortRecipient(entry.recipient)}` };
    // Counted before the entry is tried; a header that does not parse fails below, naming the entry, having cost nothing.
    const count = await readStanzas(input).then(
      (list) => list.length,
      () => 0,
    );
    stanzas.spend(count);
    try {
      return await decryptToBuffer(
        input,
        identities.map(({ identity }) => identity),
      );
    } catch (error) {
      // Not for us: try the next entry. Anything else (a malformed entry for one of our keys) is worth telling.
      if (!(error instanceof NoIdentityMatchedError) && !(error instanceof AgebootError && error.code === "NO_MATCH")) failures.push(describeCause(error));
    }
  }
  return null;
}

function noMatch(groups: readonly KeyGroup[], identities: readonly LoadedIdentity[], failures: readonly string[]): AgebootError {
  const recipients = groups.flatMap((group) => group.age.map((entry) => shortRecipient(entry.recipient)));
  const others = groups.flatMap((group) => group.otherKinds);
  const otherText = others.length > 0 ? ` (and ${others.length} PGP/KMS key${others.length === 1 ? "" : "s"} ageboot cannot use)` : "";
  const tried = identities.map(describeIdentity).join("; ") || "none (no identity could be loaded)";
  const why = failures.length > 0 ? ` (${failures.join("; ")})` : "";
  return new AgebootError(
    "NO_MATCH",
    `no identity matches: the file's age recipients are [${summarizeList(recipients, RECIPIENTS_SHOWN) || "none"}]${otherText}; tried: ${tried}${why}. Add this host's age recipient (ageboot recipient) to .sops.yaml and run sops updatekeys.`,
  );
}

/** An SSH recipient's stanza tag (what describeIdentity shows for SSH keys), or null for other recipients. */
function recipientTag(recipient: string): string | null {
  const [type, base64] = recipient.split(" ");
  if ((type !== "ssh-ed25519" && type !== "ssh-rsa") || base64 === undefined) return null;
  return sshTag(Buffer.from(base64, "base64"));
}

/** age1… recipients whole; SSH recipients as type and tag, which match `ageboot decrypt`'s identity lines. */
function shortRecipient(recipient: string): string {
  const tag = recipientTag(recipient);
  if (tag !== null) return `${recipient.split(" ")[0]} ${tag}`;
  return recipient.length > 100 ? `${recipient.slice(0, 97)}...` : recipient || "(no recipient)";
}
