import { readFileSync, statSync } from "node:fs";
import type { HostPublicKey } from "../check/host-keys.js";
import { AgebootError, describeCause } from "../errors.js";
import type { SecretSpec } from "../manifest/types.js";
import { parseSopsDocument, type SopsFormat } from "./document.js";
import { valueAtKeyPath } from "./key-path.js";
import { SOPS_LIMITS } from "./limits.js";
import type { SopsMetadata } from "./metadata.js";
import { isEncryptedValue, parseEncryptedValue } from "./value-cipher.js";

/**
 * What `ageboot check` can tell about a sops secret without the private key
 * (what sops-nix's -check-mode=sopsfile does, and more): the file parses in
 * its format and has sops metadata with age recipients; the key path exists
 * in the encrypted document; the value there is a string, which the `type:`
 * of its encrypted value tells (sops-nix only finds out at activation); with
 * the host's public keys, one of the file's age recipients is the host's.
 */
export function sopsFileProblems(secret: SecretSpec, hostKeys: readonly HostPublicKey[] = []): string[] {
  try {
    if (statSync(secret.file).size > SOPS_LIMITS.fileBytes) return [`file ${secret.file} is larger than ${SOPS_LIMITS.fileBytes} bytes`];
    const document = parseSopsDocument(readFileSync(secret.file, "utf8"), secret.format as SopsFormat);
    if (document.metadata.keyGroups.every((group) => group.age.length === 0)) return ["this file can only be opened with PGP/KMS keys, which ageboot does not support"];
    const notForHost = hostKeys.length > 0 ? hostMismatch(document.metadata, hostKeys) : undefined;
    if (notForHost !== undefined) return [notForHost];
    const key = secret.key ?? "";
    if (key === "" || secret.format === "dotenv" || secret.format === "ini" || secret.format === "binary") return [];
    const stored = valueAtKeyPath(document.branches[0]!, key).toString("utf8");
    if (isEncryptedValue(stored)) {
      const { type } = parseEncryptedValue(stored);
      if (type !== "str") return [`the value of key "${key}" is encrypted as ${type}, not a string; a secret must be a string (as in sops-nix)`];
    }
    return [];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [`file ${secret.file} does not exist`];
    if (error instanceof AgebootError) return [`${secret.format} sops file ${secret.file}: ${error.message}`];
    return [`file ${secret.file}: ${describeCause(error)}`];
  }
}

/**
 * Whether any `sops.age` recipient is one of the host's keys: the age1...
 * recipient derived from an ed25519 key (ssh-to-age, what sops-nix hosts
 * use), or the ssh key itself (sops >= 3.10 takes "ssh-ed25519 AAAA..." and
 * "ssh-rsa AAAA..." lines, comment and all). With several key groups (Shamir)
 * one matching group is not proof the host can open the file, but no match
 * is proof it cannot. Undefined when one matches; otherwise the problem.
 */
function hostMismatch(metadata: SopsMetadata, hostKeys: readonly HostPublicKey[]): string | undefined {
  const recipients = metadata.keyGroups.flatMap((group) => group.age.map((entry) => entry.recipient.trim()));
  const isHost = (recipient: string) => hostKeys.some((key) => recipient === key.ageRecipient || (recipient.startsWith(`${key.type} `) && recipient.split(/\s+/)[1] === key.blob));
  if (recipients.some(isHost)) return undefined;
  const shown = recipients.map((recipient) => (recipient.startsWith("ssh-") ? recipient.split(/\s+/).slice(0, 2).join(" ").slice(0, 40) : recipient));
  const host = hostKeys.map((key) => `${key.type} ${key.tag} (${key.path}${key.ageRecipient ? `, age recipient ${key.ageRecipient}` : ""})`);
  return `not encrypted to this host: the file's age recipients are [${shown.join(", ")}], the host keys are [${host.join(", ")}]; add the host's age recipient (ageboot recipient) to .sops.yaml and run sops updatekeys`;
}
