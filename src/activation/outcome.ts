import { AgebootError, describeCause, type ErrorCode, errnoOf } from "../errors.js";
import { type DeclaredItem, RENDERED_DIRECTORY, type SecretSpec, type TemplateSpec } from "../manifest/types.js";
import type { TemplatePart } from "../templates/placeholder.js";
import type { Ownership } from "./write-exclusive.js";

/** How a declared item compares with the generation users saw before the run. */
export type Change = "added" | "changed" | "unchanged";

/** What a declared item is: a secret (decrypted from its file) or a template (rendered from secrets). */
export type ItemKind = "secret" | "template";

/** Why a declared item could not be installed. */
export interface SecretFailure {
  readonly kind: ItemKind;
  readonly name: string;
  readonly code: ErrorCode;
  readonly message: string;
  /** The system error code under it (ENOSPC: the mount is full), when there is one. */
  readonly errno?: string;
}

/**
 * One declared item's record for a whole run: created by the plan with the
 * item's settings, carried through every step, read by the report (and by
 * whatever acts on changes: \`declared\` holds restartUnits and reloadUnits
 * for secrets and templates alike). Each step records what it learned; the
 * first failure is the one reported (later steps skip a failed item), so an
 * item is failed, or staged and then classified. A secret's outcome is a
 * SecretOutcome, a template's a TemplateOutcome; every step after staging
 * takes either.
 */
export abstract class Outcome {
  private failure: SecretFailure | null = null;
  private pathFailure: SecretFailure | null = null;
  private comparison: { sameContent: boolean; size: number } | null = null;
  private classified: Change | null = null;

  constructor(
    readonly kind: ItemKind,
    /** Its settings: name, path, owner, group, mode, symlink, restartUnits, reloadUnits. */
    readonly declared: DeclaredItem,
    /** Its file's name inside a generation (a template's: rendered/<name>). */
    readonly fileName: string,
    /** Resolved by the plan from owner, group and mode; null when they could not be. */
    readonly ownership: Ownership | null,
    /** Why the declared owner and group wait for \`ageboot chown\` (they do not exist yet); null when they do not. */
    readonly deferredBecause: string | null,
  ) {}

  get name(): string {
    return this.declared.name;
  }

  /** Units to restart when it is added, changed or removed. */
  get restartUnits(): readonly string[] {
    return this.declared.restartUnits;
  }

  /** Units to reload when it is added, changed or removed. */
  get reloadUnits(): readonly string[] {
    return this.declared.reloadUnits;
  }

  /** Record why the secret cannot be installed; the first cause wins. */
  fail(error: unknown): void {
    if (this.failure !== null) return;
    const { code, message } = error instanceof AgebootError ? error : { code: "IO" as const, message: describeCause(error) };
    const errno = errnoOf(error);
    this.failure = { kind: this.kind, name: this.name, code, message, ...(errno === undefined ? {} : { errno }) };
  }

  /**
   * Record why its custom path could not be made or installed: the secret
   * itself is still installed in the generation (the failure policy says why,
   * ./failure-policy.ts); the path keeps what it held. The first cause wins.
   */
  failPath(error: unknown): void {
    if (this.pathFailure !== null) return;
    const { code, message } = error instanceof AgebootError ? error : { code: "IO" as const, message: describeCause(error) };
    this.pathFailure = { kind: this.kind, name: this.name, code, message };
  }

  /** Why its custom path was not installed by this run, or null. */
  get pathFailed(): SecretFailure | null {
    return this.pathFailure;
  }

  /** The stage (or render) step wrote it into the new generation (or, in a dry run, compared it only), `size` bytes. */
  staged(sameContent: boolean, size: number): void {
    this.comparison = { sameContent, size };
  }

  /**
   * How many bytes staging wrote: a `symlink: false` copy copies exactly this
   * many (./custom-paths.ts), whatever size the file has by then.
   */
  get stagedSize(): number | null {
    return this.comparison?.size ?? null;
  }

  /** Whether staging found its content byte for byte equal to the current generation's. */
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

  /** Added, changed or unchanged; null for a failed item or before the comparison. */
  get change(): Change | null {
    return this.failure === null ? this.classified : null;
  }
}

/** A declared secret's outcome: its file in a generation is <name>. */
export class SecretOutcome extends Outcome {
  constructor(
    readonly secret: SecretSpec,
    ownership: Ownership | null,
    deferredBecause: string | null = null,
  ) {
    super("secret", secret, secret.name, ownership, deferredBecause);
  }
}

/** A declared template's outcome: its file in a generation is rendered/<name>. */
export class TemplateOutcome extends Outcome {
  constructor(
    readonly template: TemplateSpec,
    /** Its text split at its placeholders (../templates/placeholder.ts); null when the plan could not read or parse it. */
    readonly parts: readonly TemplatePart[] | null,
    ownership: Ownership | null,
    deferredBecause: string | null = null,
  ) {
    super("template", template, `${RENDERED_DIRECTORY}/${template.name}`, ownership, deferredBecause);
  }
}
