import { statSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import type { DeclaredItem, Manifest, SecretSpec } from "../manifest/types.js";
import type { UserDatabase } from "../users.js";
import { parseTemplate, type TemplatePart } from "../templates/placeholder.js";
import { readTemplateText } from "../templates/template-text.js";
import { type Outcome, SecretOutcome, TemplateOutcome } from "./outcome.js";
import type { Ownership } from "./write-exclusive.js";

/** Whether users read the item at a path of its own rather than secretsDir/<its file name>. */
export function hasCustomPath(outcome: Outcome, secretsDir: string): boolean {
  return outcome.declared.path !== `${secretsDir}/${outcome.fileName}`;
}

/**
 * Ownership for a secret whose owner or group does not exist yet, when the run
 * may defer it (NixOS activation, before the \`users\` step creates them): root's
 * and 0400, never more readable than what \`ageboot chown\` applies afterwards.
 */
export const DEFERRED_OWNERSHIP = { uid: 0, gid: 0, mode: 0o400 } as const;

/**
 * Step 1 of a run: one outcome per declared secret, in manifest order. Checks
 * everything that can be checked before decrypting: its file exists, its owner
 * and group exist. Its custom path is checked where it is used, on directory
 * descriptors (./custom-paths.ts): a check here, by name, would prove nothing
 * about the path a moment later (invariant 7). A secret that fails
 * here fails under the failure policy; the others go on to be staged. With
 * \`deferUnknownOwners\`, an owner or group that does not exist yet is no
 * failure: the secret is staged with DEFERRED_OWNERSHIP and marked deferred.
 * \`ownershipProblem\` refuses owners and groups the host context cannot give.
 */
export async function planSecrets(
  manifest: Manifest,
  users: UserDatabase,
  options: { deferUnknownOwners?: boolean; ownershipProblem?: (ownership: Ownership) => string | null } = {},
): Promise<SecretOutcome[]> {
  const outcomes: SecretOutcome[] = [];
  for (const secret of manifest.secrets) {
    const problems = problemsOf(secret);
    const ownership = await resolveOwnership(secret, users);
    // The host context's rule (activate --user: only the user's own uid and groups).
    const refused = typeof ownership === "string" ? null : (options.ownershipProblem?.(ownership) ?? null);
    if (refused !== null) problems.push(refused);
    if (typeof ownership === "string" && !(options.deferUnknownOwners && problems.length === 0)) problems.push(ownership);
    if (problems.length > 0) {
      const outcome = new SecretOutcome(secret, null);
      outcome.fail(new AgebootError("PLAN", problems.join("; ")));
      outcomes.push(outcome);
    } else if (typeof ownership === "string") {
      outcomes.push(new SecretOutcome(secret, DEFERRED_OWNERSHIP, ownership));
    } else {
      outcomes.push(new SecretOutcome(secret, ownership));
    }
  }
  return outcomes;
}

/**
 * Step 1 for templates: one outcome per declared template, in manifest order,
 * after the secrets'. Reads its text (inline, or from its file, bounded and
 * only if root alone could have written it) and splits it at its
 * placeholders; a placeholder naming no declared secret fails the template
 * here, before anything is touched. Owner and group as for secrets.
 */
export async function planTemplates(
  manifest: Manifest,
  users: UserDatabase,
  options: { deferUnknownOwners?: boolean; ownershipProblem?: (ownership: Ownership) => string | null } = {},
): Promise<TemplateOutcome[]> {
  const secretNames = manifest.secrets.map((secret) => secret.name);
  const outcomes: TemplateOutcome[] = [];
  for (const template of manifest.templates) {
    const problems: string[] = [];
    let parts: TemplatePart[] | null = null;
    try {
      const parsed = parseTemplate(readTemplateText(template.source), secretNames);
      if ("problems" in parsed) problems.push(...parsed.problems.map((what) => ("file" in template.source ? `file ${template.source.file}: ${what}` : what)));
      else parts = parsed.parts;
    } catch (error) {
      problems.push(error instanceof AgebootError ? error.message : describeCause(error));
    }
    const ownership = await resolveOwnership(template, users);
    const refused = typeof ownership === "string" ? null : (options.ownershipProblem?.(ownership) ?? null);
    if (refused !== null) problems.push(refused);
    if (typeof ownership === "string" && !(options.deferUnknownOwners && problems.length === 0)) problems.push(ownership);
    if (problems.length > 0 || parts === null) {
      const outcome = new TemplateOutcome(template, null, null);
      outcome.fail(new AgebootError("PLAN", problems.join("; ")));
      outcomes.push(outcome);
    } else if (typeof ownership === "string") {
      outcomes.push(new TemplateOutcome(template, parts, DEFERRED_OWNERSHIP, ownership));
    } else {
      outcomes.push(new TemplateOutcome(template, parts, ownership));
    }
  }
  return outcomes;
}

/** The secret's uid, gid and mode, or what does not exist ("owner ... does not exist"). */
export async function resolveOwnership(secret: DeclaredItem, users: UserDatabase): Promise<Ownership | string> {
  const owner = await users.user(secret.owner);
  const gid = secret.group === undefined ? owner?.gid : await users.group(secret.group);
  const missing = [
    !owner ? `owner "${secret.owner}" ${users.whyMissing("passwd", secret.owner)}` : null,
    gid === null ? `group "${secret.group}" ${users.whyMissing("group", secret.group!)}` : null,
  ].filter((text) => text !== null);
  if (missing.length > 0 || !owner || gid === undefined || gid === null) return missing.join("; ");
  return { uid: owner.uid, gid, mode: secret.mode };
}

function problemsOf(secret: SecretSpec): string[] {
  const problems: string[] = [];
  try {
    const info = statSync(secret.file);
    if (!info.isFile()) problems.push(`file ${secret.file} is not a regular file`);
  } catch (error) {
    problems.push(`file ${secret.file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : describeCause(error)}`);
  }
  return problems;
}
