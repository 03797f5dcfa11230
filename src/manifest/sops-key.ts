import type { SecretFormat } from "./types.js";

const MAX_KEY_LENGTH = 4096;
const MAX_KEY_COMPONENTS = 64;

/**
 * A secret's `key`, with sops-nix's default: for a YAML or JSON sops file,
 * the secret's name (sops-nix modules/sops: `key` defaults to the attribute
 * name), so `db/password` reads the value at db → password; "" is the whole
 * file. dotenv, INI and binary files are always whole (sops-nix ignores
 * `key` for them), and age files have no key. Returns undefined for age.
 */
export function secretKey(name: string, format: SecretFormat, raw: unknown, report: (what: string) => void): string | undefined {
  if (format === "age") {
    if (raw !== undefined) report('only sops formats (yaml, json, dotenv, ini, binary) have a "key"; an age file is the secret as a whole');
    return undefined;
  }
  const key = raw ?? name;
  if (typeof key !== "string") {
    report('must be a string: a "/"-separated path such as "db/password", or "" for the whole file');
    return undefined;
  }
  if (key.length > MAX_KEY_LENGTH) report(`longer than ${MAX_KEY_LENGTH} characters`);
  else if (key.includes("\0")) report("contains a NUL byte");
  else if (key !== "" && key.split("/").length > MAX_KEY_COMPONENTS) report(`more than ${MAX_KEY_COMPONENTS} components`);
  return key;
}
