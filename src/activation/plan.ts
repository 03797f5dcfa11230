import { lstatSync, statSync } from "node:fs";
import { describeCause, type ErrorCode } from "../errors.js";
import type { Manifest, SecretSpec } from "../manifest/types.js";
import type { UserDatabase } from "../users.js";
import { untrustedSymlinkIn } from "./trusted-path.js";

export interface PlannedSecret extends SecretSpec {
  readonly uid: number;
  readonly gid: number;
  /** True when users read it at a custom path rather than secretsDir/<name>. */
  readonly hasCustomPath: boolean;
}

/** One secret that cannot be installed, and why. */
export interface SecretFailure {
  readonly name: string;
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * Everything that can be checked about each secret before decrypting: its file
 * exists, its owner and group exist, and its custom path can be replaced. A
 * failure here is a failure of that secret under the failure policy.
 */
export async function planSecrets(manifest: Manifest, users: UserDatabase): Promise<{ planned: PlannedSecret[]; failures: SecretFailure[] }> {
  const planned: PlannedSecret[] = [];
  const failures: SecretFailure[] = [];
  for (const secret of manifest.secrets) {
    const problems = await problemsOf(secret, manifest);
    const owner = await users.user(secret.owner);
    if (!owner) problems.push(`owner "${secret.owner}" does not exist`);
    const gid = secret.group === undefined ? owner?.gid : await users.group(secret.group);
    if (gid === null) problems.push(`group "${secret.group}" does not exist`);
    if (problems.length > 0 || !owner || gid === undefined || gid === null) {
      failures.push({ name: secret.name, code: "PLAN", message: problems.join("; ") });
      continue;
    }
    planned.push({ ...secret, uid: owner.uid, gid, hasCustomPath: secret.path !== `${manifest.secretsDir}/${secret.name}` });
  }
  return { planned, failures };
}

async function problemsOf(secret: SecretSpec, manifest: Manifest): Promise<string[]> {
  const problems: string[] = [];
  try {
    const info = statSync(secret.file);
    if (!info.isFile()) problems.push(`file ${secret.file} is not a regular file`);
  } catch (error) {
    problems.push(`file ${secret.file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : describeCause(error)}`);
  }
  if (secret.path !== `${manifest.secretsDir}/${secret.name}`) {
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
