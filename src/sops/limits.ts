import { AgebootError } from "../errors.js";

/**
 * Bounds on a sops file, which is untrusted input (DESIGN.md invariant 8).
 * Real sops files are a few KiB; these leave room for large binary secrets
 * and big configurations while keeping memory and time bounded.
 */
export const SOPS_LIMITS = {
  /** The encrypted file as read from disk. */
  fileBytes: 16 * 1024 * 1024,
  /** Nesting of maps and lists. */
  depth: 64,
  /** Keys, list items, scalars and comments together. */
  nodes: 100_000,
  /** Entries in `sops.age`, over all key groups. */
  ageEntries: 256,
  /** `key_groups` (each one Shamir share). */
  keyGroups: 16,
  /** A key path in the manifest: components. */
  keyPathComponents: 64,
} as const;

/** Counts nodes and depth while a parser builds a tree; throws MALFORMED past the bounds. */
export class TreeBudget {
  private nodes = 0;

  node(depth: number): void {
    if (++this.nodes > SOPS_LIMITS.nodes) throw new AgebootError("MALFORMED", `more than ${SOPS_LIMITS.nodes} keys, values and comments`);
    if (depth > SOPS_LIMITS.depth) throw new AgebootError("MALFORMED", `nested deeper than ${SOPS_LIMITS.depth} levels`);
  }
}
