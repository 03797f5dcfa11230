import { userInfo } from "node:os";
import { isAbsolute, normalize } from "node:path";
import { AgebootError } from "../errors.js";

/**
 * Who `ageboot activate --user` works for, and where: the user it runs as and
 * the directories that user's session names. Read once, from the environment
 * the user's session (pam_systemd, the systemd user manager) set up: the user
 * chooses their own environment, and everything this mode does is done with
 * their own privileges, so trusting it gives them nothing they did not have.
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

export function readUserEnvironment(env: NodeJS.ProcessEnv = process.env): UserEnvironment {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  const gids = [...new Set([gid, ...(process.getgroups?.() ?? [])])];
  const runtime = env["XDG_RUNTIME_DIR"];
  if (runtime === undefined || runtime === "") {
    throw new AgebootError(
      "SETUP",
      "XDG_RUNTIME_DIR is not set: --user keeps your secrets in your runtime directory, a tmpfs that systemd-logind mounts at /run/user/UID for your session. Run ageboot from your login session or your systemd user manager (the ageboot-user.service unit), or for secrets you need without a login, enable lingering: loginctl enable-linger",
    );
  }
  const runtimeDir = absoluteOrThrow("XDG_RUNTIME_DIR", runtime);
  const home = absoluteOrThrow("HOME", env["HOME"] || userInfo().homedir);
  const configHome = env["XDG_CONFIG_HOME"] ? absoluteOrThrow("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"]) : `${home === "/" ? "" : home}/.config`;
  return { uid, gid, gids, home, runtimeDir, configHome };
}

function absoluteOrThrow(variable: string, value: string): string {
  const trimmed = value.length > 1 && value.endsWith("/") ? value.replace(/\/+$/, "") : value;
  if (!isAbsolute(trimmed) || normalize(trimmed) !== trimmed || trimmed.includes("\0") || trimmed.length > 4096) {
    throw new AgebootError("SETUP", `${variable} must be an absolute, normalized path, found ${JSON.stringify(value.slice(0, 200))}`);
  }
  return trimmed;
}
