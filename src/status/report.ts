/**
 * What `ageboot status` reports: the shape of `--json` (schema version 1,
 * documented in docs/lifecycle.md) and what the text output is made from.
 * Fields are only ever added to version 1; a change of meaning is version 2.
 * Nothing here holds a secret's content: sizes, owners, modes, paths and the
 * public descriptions of keys only.
 */

import type { SecretsMountKind } from "../activation/mount.js";

export const STATUS_SCHEMA_VERSION = 1;

/** A user or group: its id, and its name when the user database has one. */
export interface Principal {
  readonly id: number;
  readonly name: string | null;
}

/** A list that may not be whole: `complete` is false when it could not be read (`reason`) or was cut at a bound. */
export interface Listing<T> {
  readonly complete: boolean;
  readonly reason?: string;
  readonly entries: T[];
}

/**
 * Something status found. A `problem` is a difference from what is declared
 * (exit 1); `unchecked` is something it could not look at as this user
 * (exit 6 when there is no problem).
 */
export interface Finding {
  readonly severity: "problem" | "unchecked";
  /** "secret NAME", "path PATH", "generations", "identities". */
  readonly subject: string;
  readonly message: string;
}

export interface GenerationSummary {
  readonly generation: number;
  /** When its directory was last changed: when its last secret was written. ISO 8601, UTC. */
  readonly madeAt: string | null;
  readonly current: boolean;
}

export interface GenerationsSection {
  /** The generation secretsDir points at; null when there is none. */
  readonly current: { readonly generation: number; readonly madeAt: string | null } | null;
  /** The generation `<mount point>/current` (what containers read) names. */
  readonly containerLink: number | null;
  /** Every generation on the mount point, newest first. */
  readonly kept: Listing<GenerationSummary>;
}

/** A secret's file in the current generation. */
export type InstalledFile =
  | { readonly state: "present"; readonly owner: Principal; readonly group: Principal; readonly mode: string; readonly size: number }
  | { readonly state: "missing" }
  | { readonly state: "not-a-file"; readonly type: string }
  | { readonly state: "unknown"; readonly reason: string };

/** Whether the host's identities open a declared secret's file: its header only, never its payload. */
export type RecipientCheck =
  /** `identity`: the host identity that unwraps it (type, tag, fingerprint, path: public). */
  | { readonly state: "match"; readonly identity: string; readonly key: string }
  | { readonly state: "no-match"; readonly detail: string }
  /** The file is missing, refused (another user could have changed it), malformed or corrupt. */
  | { readonly state: "bad-file"; readonly detail: string }
  /** The host's keys or the file could not be read as this user. */
  | { readonly state: "unknown"; readonly detail: string }
  /** Nothing for status to check: a template (rendered from secrets), or a sops file (ageboot check reads those). */
  | { readonly state: "not-applicable"; readonly detail: string };

/** What the manifest declares for a secret, and whether the host has it. */
export interface DeclaredSecret {
  readonly owner: string;
  /** null: the owner's primary group. */
  readonly group: string | null;
  readonly mode: string;
  readonly state: "as-declared" | "missing" | "differs" | "unknown";
  /** What differs, is missing or could not be looked at. */
  readonly detail?: string;
  readonly recipients: RecipientCheck;
}

export interface SecretRow {
  readonly name: string;
  readonly installed: InstalledFile;
  /** null without a manifest, or for a file the manifest does not declare. */
  readonly declared: DeclaredSecret | null;
}

/** Rows of the current generation's files, and of declared secrets it lacks; sorted by name. */
export interface SecretsSection extends Listing<SecretRow> {
  /** The generation listed; null when there is no current generation. */
  readonly generation: number | null;
}

export interface CustomPathRow {
  readonly path: string;
  readonly secret: string;
  readonly kind: "symlink" | "copy";
  /** ok: as installed; missing; replaced: something else is there; differs: a copy whose content or ownership is not the secret's. */
  readonly state: "ok" | "missing" | "replaced" | "differs" | "unknown";
  readonly detail: string;
  /** Whether the manifest declares it (null without a manifest). */
  readonly declared: boolean | null;
}

/** Complete when the record of what ageboot installed could be read, or a manifest says what is declared; sorted by path. */
export type CustomPathsSection = Listing<CustomPathRow>;

export interface StatusReport {
  readonly version: typeof STATUS_SCHEMA_VERSION;
  readonly secretsDir: string;
  readonly secretsMountPoint: string;
  /** What is mounted there (../activation/mount.ts): null when no ramfs or tmpfs is. */
  readonly secretsMount: SecretsMountKind | null;
  /** The manifest compared with; null when none was read. */
  readonly manifest: string | null;
  readonly reader: { readonly uid: number; readonly root: boolean };
  readonly state: "as-declared" | "problems" | "incomplete";
  readonly exitStatus: number;
  readonly generations: GenerationsSection;
  readonly secrets: SecretsSection;
  readonly customPaths: CustomPathsSection;
  /** Every problem and unchecked item, in section order. */
  readonly findings: Finding[];
}

/** Exit statuses of `ageboot status` (README, docs/lifecycle.md). */
export const STATUS_EXIT = {
  /** Everything declared is in place. */
  AS_DECLARED: 0,
  /** Something declared is missing or differs. */
  PROBLEMS: 1,
  /** Nothing found wrong, but some of it could not be looked at as this user. */
  INCOMPLETE: 6,
} as const;

/** The verdict and exit status that the findings add up to. */
export function verdictOf(findings: readonly Finding[]): { state: StatusReport["state"]; exitStatus: number } {
  if (findings.some((finding) => finding.severity === "problem")) return { state: "problems", exitStatus: STATUS_EXIT.PROBLEMS };
  if (findings.length > 0) return { state: "incomplete", exitStatus: STATUS_EXIT.INCOMPLETE };
  return { state: "as-declared", exitStatus: STATUS_EXIT.AS_DECLARED };
}

/** A mode as people write it: "0400". */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** What each section function returns (./sections/): its part of the report, and what it found. */
export interface Section<T> {
  readonly data: T;
  readonly findings: Finding[];
}
