import type { SecretOutcome } from "./outcome.js";

/**
 * The failure policy, in one place. When a generation is current, a new one in
 * which any declared secret failed is never made current: it is discarded and
 * the current one stays, untouched, like a transaction that did not commit.
 * When none is current (the first run after boot), the secrets that did
 * decrypt are installed, so that services whose secrets are fine can start.
 * Either way every failure is reported and the run exits non-zero.
 * docs/activation.md says why this is the policy.
 */
export function newGenerationCommits(outcomes: readonly SecretOutcome[], current: number | null): boolean {
  return current === null || outcomes.every((outcome) => outcome.failed === null);
}
