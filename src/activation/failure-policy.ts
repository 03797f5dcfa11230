import { EXIT } from "../exit-codes.js";
import type { Outcome } from "./outcome.js";

/**
 * The failure policy, in one place. docs/activation.md says why it is the policy.
 *
 * A secret that failed (its file, owner or group missing, or it did not
 * decrypt): when a generation is current, a new one in which any declared
 * secret failed is never made current: it is discarded and the current one
 * stays, untouched, like a transaction that did not commit. When none is
 * current (the first run after boot), the secrets that did decrypt are
 * installed, so that services whose secrets are fine can start. Only the
 * configuration (and whoever writes the encrypted files) can make a secret fail.
 */
export function newGenerationCommits(outcomes: readonly Outcome[], current: number | null): boolean {
  return current === null || outcomes.every((outcome) => outcome.failed === null);
}

/**
 * A custom path that cannot be made or installed (a directory or a symlink in
 * the way, a directory of another user): the failure is the path's, not the
 * secret's. The secret is installed in the new generation like any other, the
 * path keeps what it held (a symlink into secretsDir then already shows the new
 * value), and newGenerationCommits does not look at it: the directories of a
 * custom path may belong to a local user, and no local user may stop the
 * other secrets from rotating.
 *
 * Either way every failure is reported and the run exits non-zero: 1
 * (EXIT.FAILED) when any secret failed, else 7 (EXIT.PATHS_FAILED) when only
 * custom paths did. Units count 7 as success (SuccessExitStatus=), so what
 * Requires= them still starts: every secret is in place, and the failure is in
 * the log, named.
 */
export function runExitStatus(outcomes: readonly Outcome[]): number {
  if (outcomes.some((outcome) => outcome.failed !== null)) return EXIT.FAILED;
  if (outcomes.some((outcome) => outcome.pathFailed !== null)) return EXIT.PATHS_FAILED;
  return EXIT.OK;
}
