import { lstatSync, statSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import type { Manifest, SecretSpec } from "../manifest/types.js";
import type { UserDatabase } from "../users.js";
import { SecretOutcome } from "./outcome.js";
import { untrustedSymlinkIn } from "./trusted-path.js";

/** Whether users read the secret at a path of its own rather than secretsDir/<name>. */
export function hasCustomPath(secret: SecretSpec, secretsDir: string): boolean {
  return secret.path !== `${secretsDir}/${secret.name}`;
}

/**
 * Step 1 of a run: one outcome per declared secret, in manifest order. Checks
 * everything that can be checked before decrypting: its file exists, its owner
 * and group exist, and its custom path can be replaced. A secret that fails
 * here fails under the failure policy; the others go on to be staged.
 */
export async function planSecrets(manifest: Manifest, users: UserDatabase): Promise<SecretOutcome[]> {
  const outcomes: SecretOutcome[] = [];
  for (const secret of manifest.secrets) {
    const problems = problemsOf(secret, manifest.secretsDir);
    const owner = await users.user(secret.owner);
    if (!owner) problems.push(`owner "${secret.owner}" does not exist`);
    const gid = secret.group === undefined ? owner?.gid : await users.group(secret.group);
    if (gid === null) problems.push(`group "${secret.group}" does not exist`);
    if (problems.length > 0 || !owner || gid === undefined || gid === null) {
      const outcome = new SecretOutcome(secret, null);
      outcome.fail(new AgebootError("PLAN", problems.join("; ")));
      outcomes.push(outcome);
      continue;
    }
    outcomes.push(new SecretOutcome(secret, { uid: owner.uid, gid, mode: secret.mode }));
  }
  return outcomes;
}

function problemsOf(secret: SecretSpec, secretsDir: string): string[] {
  const problems: string[] = [];
  try {
    const info = statSync(secret.file);
    if (!info.isFile()) problems.push(`file ${secret.file} is not a regular file`);
  } catch (error) {
    problems.push(`file ${secret.file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : describeCause(error)}`);
  }
  if (hasCustomPath(secret, secretsDir)) {
    try {
      const existing = lstatSync(secret.path);
      if (existing.isDirectory()) problems.push(`path ${secret.path} is a directory; ageboot does not delete directories, remove it or choose another path`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") problems.push(`path ${secret.path}: ${describeCause(error)}`);
    }
    const symlink = untrustedSymlinkIn(secret.path);
    if (symlink) problems.push(`path ${secret.path}: ${symlink}`);
  }
  return problems;
}
