import { closeSync, constants, openSync, readFileSync, statSync, type Stats } from "node:fs";
import sshpk from "sshpk";
import { describeCause } from "../errors.js";
import { identitiesFromAgeFile } from "./age-keys.js";
import { identitiesFromSshKey, UnusableKeyError } from "./ssh-keys.js";
import type { LoadedIdentity } from "./types.js";

/** Key files are small; anything larger is not a key and is not read into memory. */
const MAX_IDENTITY_FILE_BYTES = 1024 * 1024;

/** Something a user should hear about an identity path; never stops the others from loading. */
export interface IdentityWarning {
  readonly path: string;
  readonly message: string;
}

export interface IdentitySet {
  readonly identities: LoadedIdentity[];
  readonly warnings: IdentityWarning[];
  /** The paths that were tried, in order, for error messages. */
  readonly paths: readonly string[];
}

/**
 * Read every identity path in order. A path that is missing, empty, unreadable,
 * malformed or passphrase-protected is reported and skipped: one bad key must
 * never stop the others from working (the reference age aborts on one bad -i).
 */
export async function loadIdentities(paths: readonly string[]): Promise<IdentitySet> {
  const identities: LoadedIdentity[] = [];
  const warnings: IdentityWarning[] = [];
  for (const path of paths) {
    const warn = (message: string) => warnings.push({ path, message });
    const text = readIdentityFile(path, warn);
    if (text === null) continue;
    try {
      if (looksLikePemOrOpenSsh(text)) {
        identities.push(...identitiesFromSshKey(parseSshPrivateKey(text, path), path));
      } else {
        const parsed = await identitiesFromAgeFile(text, path);
        for (const problem of parsed.problems) warn(`line ${problem.line}: ${problem.reason}, skipped`);
        if (parsed.identities.length === 0 && parsed.problems.length === 0) warn("no identities in file, skipped");
        identities.push(...parsed.identities);
      }
    } catch (error) {
      warn(`${describeKeyError(error)}, skipped`);
    }
  }
  return { identities, warnings, paths };
}

/** The file's text, or null (with a warning) when there is nothing usable to read. */
function readIdentityFile(path: string, warn: (message: string) => void): string | null {
  let info: Stats;
  try {
    info = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    warn(code === "ENOENT" ? "identity file does not exist, skipped" : `cannot read identity file (${describeCause(error)}), skipped`);
    return null;
  }
  // Checked before opening: opening a FIFO would block and a directory cannot be read.
  if (!info.isFile()) {
    warn("not a regular file, skipped");
    return null;
  }
  if (info.size > MAX_IDENTITY_FILE_BYTES) {
    warn(`${info.size} bytes is too large for a key file, skipped`);
    return null;
  }
  // Whoever owns the key can read it, and with it every secret encrypted to it.
  const self = process.geteuid?.() ?? 0;
  if (info.uid !== 0 && info.uid !== self) {
    warn(`private key is owned by uid ${info.uid}, not ${self === 0 ? "root" : `root or uid ${self}`}: that user can read it, and every secret encrypted to it; chown root it`);
  }
  if ((info.mode & 0o077) !== 0) {
    warn(`private key is readable or writable by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, "0")}); chmod 600 it`);
  }
  let text: string;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO since stat, do not hang the boot.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    warn(`cannot read identity file (${describeCause(error)}), skipped`);
    return null;
  }
  if (text.trim() === "") {
    warn("identity file is empty, skipped");
    return null;
  }
  return text;
}

function looksLikePemOrOpenSsh(text: string): boolean {
  return text.trimStart().startsWith("-----BEGIN ");
}

function parseSshPrivateKey(text: string, path: string): sshpk.PrivateKey {
  return sshpk.parsePrivateKey(text, "auto", { filename: path });
}

/** Why a key file is unusable, without echoing anything from inside it. */
function describeKeyError(error: unknown): string {
  if (error instanceof UnusableKeyError) return error.message;
  const name = error instanceof Error ? error.name : "";
  if (name === "KeyEncryptedError") return "private key is passphrase-protected (a host key must not be)";
  if (name === "KeyParseError") return "not a valid OpenSSH, PEM or PKCS#8 private key";
  return `cannot use private key (${describeCause(error)})`;
}
