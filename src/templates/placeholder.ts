import { createHash } from "node:crypto";
import { printable } from "../manifest/printable.js";

/**
 * A template's placeholders. The placeholder of secret NAME is
 *
 *   <AGEBOOT:sha256(NAME):PLACEHOLDER>
 *
 * with the SHA-256 of NAME's UTF-8 bytes in lowercase hex, the shape sops-nix
 * gives its own (`<SOPS:sha256:PLACEHOLDER>`, sops-nix's modules/sops/templates):
 * a string no configuration holds by accident, that names the secret without
 * holding anything of it, computed by hand with `printf %s NAME | sha256sum`
 * or `ageboot placeholder NAME`, and by the NixOS module with
 * builtins.hashString. sops-nix's own spelling of the same hash,
 * <SOPS:sha256(NAME):PLACEHOLDER> (modules/sops/templates/default.nix:
 * "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>"), is replaced
 * alike: a template file written for sops-nix, with its placeholders typed in,
 * renders the same under ageboot. A placeholder-shaped string that names no
 * declared secret is an error, never text left in place: a typo must not reach
 * a service's configuration silently.
 */
const PREFIX = "<AGEBOOT:";
const SUFFIX = ":PLACEHOLDER>";
/** Anything between a prefix (ageboot's or sops-nix's) and the suffix, up to a bound, that could have been meant as a placeholder. */
const PLACEHOLDER_SHAPED = /<(?:AGEBOOT|SOPS):([^<>:\s]{0,128}):PLACEHOLDER>/g;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function placeholderFor(secretName: string): string {
  return `${PREFIX}${sha256Hex(secretName)}${SUFFIX}`;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** A template's bytes in order: text as it is, and where a secret's plaintext goes. */
export type TemplatePart = { readonly text: Buffer } | { readonly secret: string };

/**
 * Split a template into text and placeholders, each placeholder resolved to
 * the declared secret it names. Works on bytes: a template may hold any bytes
 * (the placeholders are ASCII), and latin1 maps each byte to one character,
 * so string positions are byte offsets. Returns every problem found, each
 * quoting the placeholder; the text itself is not secret, but it is not
 * quoted beyond the placeholder.
 */
export function parseTemplate(bytes: Buffer, secretNames: Iterable<string>): { parts: TemplatePart[] } | { problems: string[] } {
  const byHash = new Map<string, string>();
  for (const name of secretNames) byHash.set(sha256Hex(name), name);
  const parts: TemplatePart[] = [];
  const problems: string[] = [];
  const text = bytes.toString("latin1");
  let textStart = 0;
  for (const match of text.matchAll(PLACEHOLDER_SHAPED)) {
    const hash = match[1]!;
    const found = match[0];
    if (!SHA256_HEX.test(hash)) {
      problems.push(
        `"${printable(found)}" is not a placeholder: between "${found.slice(0, found.indexOf(":") + 1)}" and "${SUFFIX}" goes the SHA-256 of a secret's name in 64 lowercase hex digits (printf %s NAME | sha256sum, or ageboot placeholder NAME)`,
      );
      continue;
    }
    const secret = byHash.get(hash);
    if (secret === undefined) {
      problems.push(`${found} names no secret this manifest declares`);
      continue;
    }
    if (match.index > textStart) parts.push({ text: bytes.subarray(textStart, match.index) });
    parts.push({ secret });
    textStart = match.index + found.length;
  }
  if (textStart < bytes.length) parts.push({ text: bytes.subarray(textStart) });
  return problems.length > 0 ? { problems } : { parts };
}

/** The secrets a template's parts name, each once, in order of first use. */
export function referencedSecrets(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((part) => ("secret" in part ? [part.secret] : [])))];
}
