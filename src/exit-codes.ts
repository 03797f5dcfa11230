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
  /**
   * `activate` only: every secret was installed, but one or more custom paths
   * could not be (docs/activation.md, "Failure policy"). Its own status so that
   * units list it in SuccessExitStatus=: a local user who owns a directory on
   * the way to their own secret's custom path must not make the unit fail, and
   * with it every unit that Requires= it. (6 is `status`'s "incomplete".)
   */
  PATHS_FAILED: 7,
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
