import { AgebootError } from "../errors.js";
import type { Logger } from "../log.js";
import { loadIdentities, type IdentitySet } from "./load.js";
import { describeIdentity } from "./types.js";

/**
 * Load identities for a run: log every warning, log what was loaded (public
 * fingerprints only), and fail when nothing at all could be loaded.
 */
export async function requireIdentities(paths: readonly string[], log: Logger): Promise<IdentitySet> {
  const set = await loadIdentities(paths);
  for (const warning of set.warnings) log.warn(`${warning.path}: ${warning.message}`);
  for (const identity of set.identities) log.debug(`identity loaded: ${describeIdentity(identity)}`);
  if (set.identities.length === 0) {
    throw new AgebootError("NO_IDENTITY", `no usable identity in ${paths.length === 0 ? "(no identity paths given)" : paths.join(", ")}`);
  }
  return set;
}
