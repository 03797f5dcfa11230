/**
 * One error type for everything ageboot reports to a user. `code` is stable and
 * decides the exit status; `message` names the thing that failed (a secret, a
 * file, an identity path) and the cause. Messages never contain plaintext or key
 * material: callers build them from paths, names and library error texts only.
 */
export type ErrorCode =
  | "USAGE" // the command line is wrong
  | "NO_IDENTITY" // no usable identity could be loaded at all
  | "NO_MATCH" // the file is not encrypted to any loaded identity
  | "MALFORMED" // the age file is not a well-formed age file
  | "CORRUPT" // well-formed, but authentication failed: truncated, corrupted or tampered
  | "IO" // a file could not be read or written
  | "PLAN" // a secret cannot be installed as declared: file missing, owner or group unknown, custom path unusable
  | "MANIFEST" // the manifest is unreadable or invalid; nothing was touched
  | "SETUP"; // the mount point, secretsDir or lock cannot be used; nothing was touched

export class AgebootError extends Error {
  override name = "AgebootError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of anything thrown, for wrapping into a message of our own. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const errno = (cause as NodeJS.ErrnoException).code;
    return errno && !cause.message.includes(errno) ? `${errno}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
