import type { ErrorCode } from "./errors.js";

/** Exit statuses; stable, documented in the README. */
export const EXIT = {
  OK: 0,
  /** A secret (or the file given to `decrypt`) could not be decrypted or installed. */
  FAILED: 1,
  /** The command line is wrong. */
  USAGE: 2,
  /** No identity could be loaded from any identity path. */
  NO_IDENTITY: 3,
  /** The manifest is unreadable or invalid; nothing was touched. */
  MANIFEST: 4,
  /** The mount point, secretsDir or lock cannot be used; nothing was touched. */
  SETUP: 5,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case "USAGE":
      return EXIT.USAGE;
    case "NO_IDENTITY":
      return EXIT.NO_IDENTITY;
    case "MANIFEST":
      return EXIT.MANIFEST;
    case "SETUP":
      return EXIT.SETUP;
    default:
      return EXIT.FAILED;
  }
}
