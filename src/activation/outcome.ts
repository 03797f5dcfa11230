import { AgebootError, describeCause, type ErrorCode } from "../errors.js";
import type { SecretSpec } from "../manifest/types.js";
import type { Ownership } from "./write-exclusive.js";

/** How a declared secret compares with the generation users saw before the run. */
export type Change = "added" | "changed" | "unchanged";

/** Why a declared secret could not be installed. */
export interface SecretFailure {
  readonly name: string;
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * One declared secret's record for a whole run: created by the plan with the
 * secret's settings, carried through every step, read by the report. Each step
 * records what it learned; the first failure is the one reported (later steps
 * skip a failed secret), so a secret is failed, or staged and then classified.
 */
export class SecretOutcome {
  private failure: SecretFailure | null = null;
  private pathFailure: SecretFailure | null = null;
  private comparison: { sameContent: boolean } | null = null;
  private classified: Change | null = null;

  constructor(
    readonly secret: SecretSpec,
    /** Resolved by the plan from owner, group and mode; null when they could not be. */
    readonly ownership: Ownership | null,
    /** Why the declared owner and group wait for \`ageboot chown\` (they do not exist yet); null when they do not. */
    readonly deferredBecause: string | null = null,
  ) {}

  get name(): string {
    return this.secret.name;
  }

  /** Units to restart when it is added, changed or removed. */
  get restartUnits(): readonly string[] {
    return this.secret.restartUnits;
  }

  /** Units to reload when it is added, changed or removed. */
  get reloadUnits(): readonly string[] {
    return this.secret.reloadUnits;
  }

  /** Record why the secret cannot be installed; the first cause wins. */
  fail(error: unknown): void {
    if (this.failure !== null) return;
    const { code, message } = error instanceof AgebootError ? error : { code: "IO" as const, message: describeCause(error) };
    this.failure = { name: this.name, code, message };
  }

  /**
   * Record why its custom path could not be made or installed: the secret
   * itself is still installed in the generation (the failure policy says why,
   * ./failure-policy.ts); the path keeps what it held. The first cause wins.
   */
  failPath(error: unknown): void {
    if (this.pathFailure !== null) return;
    const { code, message } = error instanceof AgebootError ? error : { code: "IO" as const, message: describeCause(error) };
    this.pathFailure = { name: this.name, code, message };
  }

  /** Why its custom path was not installed by this run, or null. */
  get pathFailed(): SecretFailure | null {
    return this.pathFailure;
  }

  /** The stage step decrypted it into the new generation (or, in a dry run, compared it only). */
  staged(sameContent: boolean): void {
    this.comparison = { sameContent };
  }

  /** Whether staging found its plaintext byte for byte equal to the current generation's. */
  get sameContent(): boolean {
    return this.comparison?.sameContent ?? false;
  }

  classify(change: Change): void {
    this.classified = change;
  }

  get failed(): SecretFailure | null {
    return this.failure;
  }

  /** Staged, and not failed since: what a new generation holds for it. */
  get isStaged(): boolean {
    return this.comparison !== null && this.failure === null;
  }

  /** Added, changed or unchanged; null for a failed secret or before the comparison. */
  get change(): Change | null {
    return this.failure === null ? this.classified : null;
  }
}
