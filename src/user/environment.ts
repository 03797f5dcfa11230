import { userInfo } from "node:os";
import { isAbsolute, normalize } from "node:path";
import { AgebootError } from "../errors.js";

/**
 * Who `ageboot activate --user` works for, and where: the user it runs as and
 * the directories that user's session names. Read once, from the environment
 * the user's session (pam_systemd, the systemd user manager) set up: the user
 * chooses their own environment, and everything this mode does is done with
 * their own privileges, so trusting it gives them nothing they did not have.
 * Not so for root: under `sudo -E` (or env_keep) HOME and XDG_* are another
 * user's, who would pick the manifest, the identities and where root writes.
 * Root's own secrets come from root's passwd home and /run/user/0, whatever
 * the environment says.
 */
export interface UserEnvironment {
  readonly uid: number;
  /** The primary group: what a secret's group is unless it names another of `gids`. */
  readonly gid: number;
  /** The process's groups (primary and supplementary): the only groups it can give a file. */
  readonly gids: readonly number[];
  /** $HOME (else the passwd entry's home). */
  readonly home: string;
  /** $XDG_RUNTIME_DIR: the per-user tmpfs that holds the secrets and their generations. */
  readonly runtimeDir: string;
  /** $XDG_CONFIG_HOME, else ~/.config: where the manifest is by default. */
  readonly configHome: string;
}

/** Who runs this process, and root's passwd home: read from the process, never from the environment. */
export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly passwdHome: string;
}

function processIdentity(): ProcessIdentity {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, groups: process.getgroups?.() ?? [], passwdHome: userInfo().homedir };
}

/** root's runtime directory, as systemd-logind and root's user manager name it. */
const ROOT_RUNTIME_DIR = "/run/user/0";

export function readUserEnvironment(env: NodeJS.ProcessEnv = process.env, identity: ProcessIdentity = processIdentity()): UserEnvironment {
  const { uid, gid } = identity;
  const gids = [...new Set([gid, ...identity.groups])];
  if (uid === 0) return rootUserEnvironment(env, identity, gids);
  const runtime = env["XDG_RUNTIME_DIR"];
  if (runtime === undefined || runtime === "") {
    throw new AgebootError(
      "SETUP",
      "XDG_RUNTIME_DIR is not set: --user keeps your secrets in your runtime directory, a tmpfs that systemd-logind mounts at /run/user/UID for your session. Run ageboot from your login session or your systemd user manager (the ageboot-user.service unit), or for secrets you need without a login, enable lingering: loginctl enable-linger",
    );
  }
  const runtimeDir = absoluteOrThrow("XDG_RUNTIME_DIR", runtime);
  const home = absoluteOrThrow("HOME", env["HOME"] || identity.passwdHome);
  const configHome = env["XDG_CONFIG_HOME"] ? absoluteOrThrow("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"]) : `${home === "/" ? "" : home}/.config`;
  return { uid, gid, gids, home, runtimeDir, configHome };
}

/**
 * root's own: the passwd home and /run/user/0. An XDG_RUNTIME_DIR naming
 * another directory is refused rather than ignored, so that `sudo -E ageboot
 * activate --user` says why it will not use the caller's.
 */
function rootUserEnvironment(env: NodeJS.ProcessEnv, identity: ProcessIdentity, gids: readonly number[]): UserEnvironment {
  const runtime = env["XDG_RUNTIME_DIR"];
  if (runtime !== undefined && runtime !== "" && runtime.replace(/\/+$/, "") !== ROOT_RUNTIME_DIR) {
    throw new AgebootError(
      "SETUP",
      `--user as root works in root's own runtime directory ${ROOT_RUNTIME_DIR} and home ${identity.passwdHome}, never in what the environment names (under sudo -E, another user's): XDG_RUNTIME_DIR is ${JSON.stringify(runtime.slice(0, 200))}. Run it as that user, or without their environment (sudo without -E)`,
    );
  }
  const home = absoluteOrThrow("root's passwd home", identity.passwdHome);
  return { uid: 0, gid: identity.gid, gids, home, runtimeDir: ROOT_RUNTIME_DIR, configHome: `${home === "/" ? "" : home}/.config` };
}

function absoluteOrThrow(variable: string, value: string): string {
  const trimmed = value.length > 1 && value.endsWith("/") ? value.replace(/\/+$/, "") : value;
  if (!isAbsolute(trimmed) || normalize(trimmed) !== trimmed || trimmed.includes("\0") || trimmed.length > 4096) {
    throw new AgebootError("SETUP", `${variable} must be an absolute, normalized path, found ${JSON.stringify(value.slice(0, 200))}`);
  }
  return trimmed;
}
