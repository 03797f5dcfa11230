import { AgebootError } from "../errors.js";
import { SOPS_LIMITS } from "./limits.js";
import type { SelectionRule } from "./metadata.js";
import { compileRe2 } from "./re2.js";

/**
 * The comments of one level of the tree walk seen since its last entry, as
 * counts: how many match the rule's comment regex, and whether the latest one
 * does. Each comment is tested once, when it is seen; testing every comment in
 * scope again for every value made a 73 KB file of 10,000 comments above 3,000
 * values cost 30 M regex tests (9 s).
 */
export interface CommentLevel {
  matching: number;
  latestMatches: boolean;
}

/**
 * Whether a leaf is encrypted (sops.go shouldBeEncrypted), given its key path
 * (list positions are not part of it) and the comment stack: per level of the
 * walk, the comments seen since the last entry, as stored in the file.
 */
export interface Selector {
  encrypted(path: readonly string[], levels: readonly CommentLevel[], isComment: boolean): boolean;
  /** Record a comment seen at `level` (its text as stored in the file). */
  see(level: CommentLevel, comment: string): void;
}

export function newCommentLevel(): CommentLevel {
  return { matching: 0, latestMatches: false };
}

export function clearCommentLevel(level: CommentLevel): void {
  level.matching = 0;
  level.latestMatches = false;
}

/**
 * A selection regex as the walk tests it: each distinct text once, none
 * longer than SOPS_LIMITS.regexTestedChars, and at most SOPS_LIMITS.regexWork
 * of work over the file (limits.ts says why). A key path tests every key on
 * it for every leaf below, so the same keys come again and again.
 */
function boundedRegex(pattern: string, kind: SelectionRule["kind"]): (text: string, what: "key" | "comment") => boolean {
  const regex = compileRe2(pattern, kind);
  const weight = pattern.length + 1;
  const results = new Map<string, boolean>();
  let work = 0;
  return (text, what) => {
    const known = results.get(text);
    if (known !== undefined) return known;
    if (text.length > SOPS_LIMITS.regexTestedChars) {
      throw new AgebootError("MALFORMED", `${kind}: a ${what} of ${text.length} characters is longer than the ${SOPS_LIMITS.regexTestedChars} a selection rule is tested on`);
    }
    work += text.length * weight;
    if (work > SOPS_LIMITS.regexWork) {
      throw new AgebootError("MALFORMED", `${kind}: its keys and comments would cost the selection regex more than ${SOPS_LIMITS.regexWork} character-tests`);
    }
    const matches = regex.test(text);
    results.set(text, matches);
    return matches;
  };
}

export function selector(rule: SelectionRule): Selector {
  const { kind, value } = rule;
  const byPath = (encrypted: (path: readonly string[]) => boolean): Selector => ({ encrypted, see: () => {} });
  switch (kind) {
    case "unencrypted_suffix":
      return byPath((path) => !path.some((part) => part.endsWith(value)));
    case "encrypted_suffix":
      return byPath((path) => path.some((part) => part.endsWith(value)));
    case "unencrypted_regex": {
      const test = boundedRegex(value, kind);
      return byPath((path) => !path.some((part) => test(part, "key")));
    }
    case "encrypted_regex": {
      const test = boundedRegex(value, kind);
      return byPath((path) => path.some((part) => test(part, "key")));
    }
    case "unencrypted_comment_regex":
    case "encrypted_comment_regex": {
      const test = boundedRegex(value, kind);
      const see = (level: CommentLevel, comment: string) => {
        level.latestMatches = test(comment, "comment");
        if (level.latestMatches) level.matching++;
      };
      if (kind === "unencrypted_comment_regex") return { see, encrypted: (_path, levels) => !levels.some((level) => level.matching > 0) };
      return {
        see,
        encrypted: (_path, levels, isComment) =>
          levels.some((level, index) => {
            // The matching comment line itself stays clear: leave out the comment being decided (the latest of the innermost level).
            const current = isComment && index === levels.length - 1 && level.latestMatches ? 1 : 0;
            return level.matching - current > 0;
          }),
      };
    }
  }
}
