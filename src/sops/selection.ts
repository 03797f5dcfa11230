import { compileRe2 } from "./re2.js";
import type { SelectionRule } from "./metadata.js";

/**
 * Whether a leaf is encrypted (sops.go shouldBeEncrypted), given its key path
 * (list positions are not part of it) and the comment stack: per level of the
 * walk, the comments seen since the last entry, as stored in the file.
 */
export type Selector = (path: readonly string[], comments: readonly (readonly string[])[], isComment: boolean) => boolean;

export function selector(rule: SelectionRule): Selector {
  const { kind, value } = rule;
  switch (kind) {
    case "unencrypted_suffix":
      return (path) => !path.some((part) => part.endsWith(value));
    case "encrypted_suffix":
      return (path) => path.some((part) => part.endsWith(value));
    case "unencrypted_regex": {
      const regex = compileRe2(value, kind);
      return (path) => !path.some((part) => regex.test(part));
    }
    case "encrypted_regex": {
      const regex = compileRe2(value, kind);
      return (path) => path.some((part) => regex.test(part));
    }
    case "unencrypted_comment_regex": {
      const regex = compileRe2(value, kind);
      return (_path, comments) => !comments.some((level) => level.some((comment) => regex.test(comment)));
    }
    case "encrypted_comment_regex": {
      const regex = compileRe2(value, kind);
      return (_path, comments, isComment) =>
        comments.some((level, i) =>
          level.some((comment, j) => {
            // The matching comment line itself stays clear: skip the comment being decided.
            if (isComment && i === comments.length - 1 && j === level.length - 1) return false;
            return regex.test(comment);
          }),
        );
    }
  }
}
