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
  /** The system error code (ENOSPC, EDQUOT, ...) under it, if any: decisions read this, never the message. */
  readonly errno: string | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; errno?: string | undefined },
  ) {
    super(message, options);
    this.errno = options?.errno ?? errnoOf(options?.cause);
  }
}

/** The system error code (ENOSPC, ...) of `error` or of what caused it, or undefined. */
export function errnoOf(error: unknown): string | undefined {
  for (let depth = 0; depth < 8 && error instanceof Error; depth++) {
    if (error instanceof AgebootError) return error.errno;
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
    error = error.cause;
  }
  return undefined;
}

/** The message of anything thrown, for wrapping into a message of our own. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const errno = (cause as NodeJS.ErrnoException).code;
    return errno && !cause.message.includes(errno) ? `${errno}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
