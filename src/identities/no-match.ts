import type { Stanza } from "../age/header.js";
import { describeIdentity, type LoadedIdentity } from "./types.js";

/**
 * What to tell people when no identity opens a file: the recipients it is
 * encrypted to (type and SSH key tag, which match `ssh-keygen -l` output
 * through describeIdentity) and every identity tried, so they know which key
 * to rekey for.
 */
export function noMatchMessage(stanzas: readonly Stanza[], identities: readonly LoadedIdentity[]): string {
  const recipients = stanzas.map(describeStanza).join(", ") || "no recipients";
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
