import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import { readStanzas } from "../age/decrypt.js";
import type { Stanza } from "../age/header.js";
import { AgebootError, describeCause } from "../errors.js";
import { summarizeList } from "../summarize-list.js";
import type { DeclaredItem, Manifest, SecretSpec } from "../manifest/types.js";
import { sopsFileProblems } from "../sops/check.js";
import { parseTemplate } from "../templates/placeholder.js";
import { MAX_TEMPLATE_BYTES } from "../templates/template-text.js";
import { isId, type UserDatabase } from "../users.js";
import type { HostPublicKey } from "./host-keys.js";

/**
 * Where owners and groups are looked up: the names a configuration declares
 * (the NixOS module passes them; the build machine's users are not the host's),
 * or this machine's user database.
 */
export type Principals =
  | { readonly kind: "declared"; readonly users: ReadonlySet<string>; readonly groups: ReadonlySet<string> }
  | { readonly kind: "this machine"; readonly database: UserDatabase };

/** What `ageboot check` found about one secret or template. */
export interface SecretCheck {
  readonly kind: "secret" | "template";
  readonly name: string;
  /** What would make the secret fail at boot. */
  readonly problems: string[];
  /** What cannot be known without the private key, said once. */
  readonly notes: string[];
}

/** Stanza types whose arguments name no recipient: only the private key can tell whether they are ours. */
const ANONYMOUS_STANZAS = new Set(["X25519", "mlkem768x25519", "scrypt"]);

/**
 * Everything knowable about a manifest's secrets without the private key and
 * without root: each file exists, is an age file with a well-formed header,
 * and has a stanza for one of `hostKeys` (when given); each owner and group
 * exists, among `declared` when given (a configuration being built), else on
 * this machine. Templates: owner and group likewise, and a template file's
 * placeholders each name a declared secret.
 */
export async function checkManifest(manifest: Manifest, hostKeys: readonly HostPublicKey[], principals: Principals): Promise<SecretCheck[]> {
  const checks: SecretCheck[] = [];
  for (const secret of manifest.secrets) {
    const problems: string[] = [];
    const notes: string[] = [];
    const stanzas = await fileProblems(secret, hostKeys, problems);
    if (stanzas !== null && hostKeys.length > 0) matchHostKeys(stanzas, hostKeys, problems, notes);
    await principalProblems(secret, principals, problems);
    checks.push({ kind: "secret", name: secret.name, problems, notes });
  }
  const secretNames = manifest.secrets.map((secret) => secret.name);
  for (const template of manifest.templates) {
    const problems: string[] = [];
    // Inline text was checked with the manifest; a file's is read here.
    if ("file" in template.source) templateFileProblems(template.source.file, secretNames, problems);
    await principalProblems(template, principals, problems);
    checks.push({ kind: "template", name: template.name, problems, notes: [] });
  }
  return checks;
}

/**
 * A template file exists, is within the bound, and every placeholder in it
 * names a declared secret. Read plainly: at build time it is public data,
 * and activation applies the trust rule for files when it reads it.
 */
function templateFileProblems(file: string, secretNames: readonly string[], problems: string[]): void {
  let text: Buffer;
  try {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) return void problems.push(`file ${file} is not a regular file`);
      if (info.size > MAX_TEMPLATE_BYTES) return void problems.push(`file ${file}: ${info.size} bytes, more than the ${MAX_TEMPLATE_BYTES} bytes (1 MiB) a template may hold`);
      text = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    problems.push(`file ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : describeCause(error)}`);
    return;
  }
  const parsed = parseTemplate(text, secretNames);
  if ("problems" in parsed) problems.push(...parsed.problems.map((what) => `file ${file}: ${what}`));
}

async function fileProblems(secret: SecretSpec, hostKeys: readonly HostPublicKey[], problems: string[]): Promise<readonly Stanza[] | null> {
  if (secret.format !== "age") {
    problems.push(...sopsFileProblems(secret, hostKeys));
    return null;
  }
  try {
    if (!statSync(secret.file).isFile()) {
      problems.push(`file ${secret.file} is not a regular file`);
      return null;
    }
    return await readStanzas({ file: secret.file });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") problems.push(`file ${secret.file} does not exist`);
    else if (error instanceof AgebootError) problems.push(`not a well-formed age file: ${error.message}`);
    else problems.push(`file ${secret.file}: ${describeCause(error)}`);
    return null;
  }
}

function matchHostKeys(stanzas: readonly Stanza[], hostKeys: readonly HostPublicKey[], problems: string[], notes: string[]): void {
  const forHost = stanzas.some((stanza) => hostKeys.some((key) => stanza.args[0] === key.type && stanza.args[1] === key.tag));
  if (forHost) return;
  const recipients = stanzas.map((stanza) => (ANONYMOUS_STANZAS.has(stanza.args[0] ?? "") ? (stanza.args[0] ?? "") : `${stanza.args[0]} ${stanza.args[1] ?? ""}`.trim()));
  const anonymous = stanzas.filter((stanza) => ANONYMOUS_STANZAS.has(stanza.args[0] ?? "")).length;
  if (anonymous > 0) {
    // An X25519 stanza carries only an ephemeral share: it may be for the age1... key derived from the host's ed25519 key (ssh-to-age).
    notes.push(
      `no stanza names a host key; its ${anonymous} X25519-style stanza${anonymous === 1 ? "" : "s"} may be for the host (age1... from ssh-to-age), which only the private key can tell`,
    );
    return;
  }
  problems.push(
    `not encrypted to this host: the file is for [${summarizeList(recipients, 10)}], the host keys are [${hostKeys.map((key) => `${key.type} ${key.tag} (${key.path})`).join(", ")}]; rekey it`,
  );
}

async function principalProblems(secret: DeclaredItem, principals: Principals, problems: string[]): Promise<void> {
  if (principals.kind === "declared") {
    if (!isId(secret.owner) && !principals.users.has(secret.owner)) problems.push(`owner "${secret.owner}" is not a user this configuration declares`);
    if (secret.group !== undefined && !isId(secret.group) && !principals.groups.has(secret.group))
      problems.push(`group "${secret.group}" is not a group this configuration declares`);
    return;
  }
  if (!(await principals.database.user(secret.owner))) problems.push(`owner "${secret.owner}" does not exist`);
  if (secret.group !== undefined && (await principals.database.group(secret.group)) === null) problems.push(`group "${secret.group}" does not exist`);
}
