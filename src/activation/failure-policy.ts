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
 * Either way every failure is reported and the run exits non-zero.
 */
export function runSucceeded(outcomes: readonly Outcome[]): boolean {
  return outcomes.every((outcome) => outcome.failed === null && outcome.pathFailed === null);
}
