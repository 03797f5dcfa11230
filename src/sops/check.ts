import { readFileSync, statSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import type { SecretSpec } from "../manifest/types.js";
import { parseSopsDocument, type SopsFormat } from "./document.js";
import { valueAtKeyPath } from "./key-path.js";
import { SOPS_LIMITS } from "./limits.js";
import { isEncryptedValue, parseEncryptedValue } from "./value-cipher.js";

/**
 * What `ageboot check` can tell about a sops secret without the private key
 * (what sops-nix's -check-mode=sopsfile does, and more): the file parses in
 * its format and has sops metadata with age recipients; the key path exists
 * in the encrypted document; the value there is a string, which the `type:`
 * of its encrypted value tells (sops-nix only finds out at activation).
 */
export function sopsFileProblems(secret: SecretSpec): string[] {
  try {
    if (statSync(secret.file).size > SOPS_LIMITS.fileBytes) return [`file ${secret.file} is larger than ${SOPS_LIMITS.fileBytes} bytes`];
    const document = parseSopsDocument(readFileSync(secret.file, "utf8"), secret.format as SopsFormat);
    if (document.metadata.keyGroups.every((group) => group.age.length === 0)) return ["this file can only be opened with PGP/KMS keys, which ageboot does not support"];
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
