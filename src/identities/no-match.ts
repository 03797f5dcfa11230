import type { Stanza } from "../age/header.js";
import { summarizeList } from "../summarize-list.js";
import { describeIdentity, type LoadedIdentity } from "./types.js";

/** Recipients named in a message; a header may have up to MAX_STANZAS (src/age/limits.ts). */
const RECIPIENTS_SHOWN = 10;

/**
 * What to tell people when no identity opens a file: the recipients it is
 * encrypted to (type and SSH key tag, which match `ssh-keygen -l` output
 * through describeIdentity) and every identity tried, so they know which key
 * to rekey for. A long recipient list is cut after RECIPIENTS_SHOWN.
 */
export function noMatchMessage(stanzas: readonly Stanza[], identities: readonly LoadedIdentity[]): string {
  const recipients = summarizeList(stanzas.map(describeStanza), RECIPIENTS_SHOWN) || "no recipients";
  const tried = identities.map(describeIdentity).join("; ") || "none (no identity could be loaded)";
  return `no identity matches: the file is encrypted to [${recipients}]; tried: ${tried}. Rekey the file for this host's key.`;
}

/** A stanza as a user can match it against keys: type, and the key tag where the type has one. */
function describeStanza(stanza: Stanza): string {
  const [type = "?", firstArg] = stanza.args;
  if ((type === "ssh-ed25519" || type === "ssh-rsa") && firstArg !== undefined) return `${type} ${firstArg}`;
  if (type === "scrypt") return "scrypt (passphrase-encrypted)";
  return type;
}
