import { isAbsolute, normalize, posix } from "node:path";
import { forbiddenCustomPathReason } from "./forbidden-paths.js";
import { parseMode } from "./mode.js";
import { printable } from "./printable.js";
import { secretKey } from "./sops-key.js";
import { MANIFEST_DEFAULTS, type ManifestDefaults, SECRET_FORMATS, type Manifest, type SecretFormat, type SecretSpec } from "./types.js";
import { parseUnitList } from "./units.js";

const topLevelFields = new Set(["version", "secretsDir", "secretsMountPoint", "identityPaths", "keepGenerations", "secrets"]);
const secretFields = new Set(["file", "format", "key", "path", "owner", "group", "mode", "symlink", "restartUnits", "reloadUnits"]);
/** Generous, but bounded: a manifest is configuration, not data. */
const MAX_STRING_LENGTH = 4096;
const MAX_SECRETS = 100_000;

/**
 * Check a parsed manifest completely and return it with defaults applied, or
 * every problem found, each naming the secret and field. Nothing here touches
 * the file system: existence of files, users and groups is checked by the plan.
 */
export function validateManifest(input: unknown, defaults: ManifestDefaults = MANIFEST_DEFAULTS): { manifest: Manifest } | { problems: string[] } {
  const problems: string[] = [];
  const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);

  if (!isRecord(input)) return { problems: ["manifest: must be a mapping (JSON object or YAML map)"] };
  for (const field of Object.keys(input)) if (!topLevelFields.has(field)) problem(`field "${field}"`, "unknown field");

  if (input["version"] !== 1) problem("version", `must be 1, found ${describe(input["version"])}`);
  const secretsDir = absolutePath(input["secretsDir"] ?? defaults.secretsDir, "secretsDir", problem);
  const secretsMountPoint = absolutePath(input["secretsMountPoint"] ?? defaults.secretsMountPoint, "secretsMountPoint", problem);
  if (secretsDir && secretsMountPoint && (isWithin(secretsDir, secretsMountPoint) || isWithin(secretsMountPoint, secretsDir))) {
    problem("secretsDir", `must not be, contain or be inside secretsMountPoint (${secretsMountPoint})`);
  }

  const identityPaths: string[] = [];
  const rawIdentityPaths = input["identityPaths"] ?? defaults.identityPaths;
  if (!Array.isArray(rawIdentityPaths)) problem("identityPaths", "must be a list of absolute paths");
  else
    rawIdentityPaths.forEach((entry, index) => {
      const path = absolutePath(entry, `identityPaths[${index}]`, problem);
      if (path) identityPaths.push(path);
    });

  const keepGenerations = input["keepGenerations"] ?? MANIFEST_DEFAULTS.keepGenerations;
  if (!Number.isSafeInteger(keepGenerations) || (keepGenerations as number) < 0) {
    problem("keepGenerations", `must be a whole number >= 0, found ${describe(keepGenerations)}`);
  }

  const secrets: SecretSpec[] = [];
  const rawSecrets = input["secrets"] ?? {};
  if (!isRecord(rawSecrets)) problem("secrets", "must be a mapping from secret name to its settings");
  else {
    const names = Object.keys(rawSecrets);
    if (names.length > MAX_SECRETS) problem("secrets", `more than ${MAX_SECRETS} secrets`);
    else
      for (const name of names) {
        const spec = validateSecret(
          name,
          rawSecrets[name],
          secretsDir ?? defaults.secretsDir,
          secretsMountPoint ?? undefined,
          identityPaths,
          defaults.owner,
          defaults.group,
          problem,
        );
        if (spec) secrets.push(spec);
      }
  }
  checkTargetsAreDistinct(secrets, problem);

  if (problems.length > 0 || !secretsDir || !secretsMountPoint) return { problems };
  return {
    manifest: { version: 1, secretsDir, secretsMountPoint, identityPaths, keepGenerations: keepGenerations as number, secrets },
  };
}

function validateSecret(
  name: string,
  raw: unknown,
  secretsDir: string,
  secretsMountPoint: string | undefined,
  identityPaths: readonly string[],
  defaultOwner: string,
  defaultGroup: string | undefined,
  problem: (where: string, what: string) => void,
): SecretSpec | null {
  const where = (field?: string) => `secret "${printable(name)}"${field ? ` field "${field}"` : ""}`;
  let valid = true;
  const report = (field: string | undefined, what: string) => {
    valid = false;
    problem(where(field), what);
  };
  const nameProblem = secretNameProblem(name);
  if (nameProblem) report(undefined, `invalid name: ${nameProblem}`);
  if (!isRecord(raw)) {
    report(undefined, 'settings must be a mapping with at least "file"');
    return null;
  }
  for (const field of Object.keys(raw)) if (!secretFields.has(field)) report(field, "unknown field");

  const file = absolutePath(raw["file"], "", (_, what) => report("file", raw["file"] === undefined ? "is required" : what));
  const format = raw["format"] ?? MANIFEST_DEFAULTS.format;
  if (!SECRET_FORMATS.includes(format as SecretFormat)) report("format", `must be one of ${SECRET_FORMATS.map((known) => `"${known}"`).join(", ")}, found ${describe(format)}`);
  const key = SECRET_FORMATS.includes(format as SecretFormat) ? secretKey(name, format as SecretFormat, raw["key"], (what) => report("key", what)) : undefined;
  const defaultPath = posix.join(secretsDir, name);
  const path = raw["path"] === undefined ? defaultPath : absolutePath(raw["path"], "", (_, what) => report("path", what));
  if (path && path !== defaultPath) {
    if (isWithin(path, secretsDir)) report("path", `a custom path must not be inside secretsDir (${secretsDir}); leave "path" unset for ${defaultPath}`);
    else if (secretsMountPoint && isWithin(path, secretsMountPoint)) report("path", `must not be inside secretsMountPoint (${secretsMountPoint})`);
    else {
      const forbidden = forbiddenCustomPathReason(path, { secretsDir, secretsMountPoint: secretsMountPoint ?? MANIFEST_DEFAULTS.secretsMountPoint, identityPaths });
      if (forbidden) report("path", forbidden);
    }
  }
  const owner = principal(raw["owner"] ?? defaultOwner, (what) => report("owner", what));
  const group = raw["group"] === undefined || raw["group"] === null ? defaultGroup : principal(raw["group"], (what) => report("group", what));
  const mode = fileMode(raw["mode"], (what) => report("mode", what));
  const symlink = raw["symlink"] ?? MANIFEST_DEFAULTS.symlink;
  if (typeof symlink !== "boolean") report("symlink", `must be true or false, found ${describe(symlink)}`);
  const restartUnits = parseUnitList(raw["restartUnits"], (what) => report("restartUnits", what));
  const reloadUnits = parseUnitList(raw["reloadUnits"], (what) => report("reloadUnits", what));

  if (!valid || !file || !path || owner === null || group === null || mode === null || restartUnits === null || reloadUnits === null) return null;
  return { name, format: format as SecretFormat, ...(key === undefined ? {} : { key }), file, path, owner, group, mode, symlink: symlink as boolean, restartUnits, reloadUnits };
}

/** Why a secret name is unusable, or null. Names may contain "/" (sub-directories), as in agenix. */
export function secretNameProblem(name: string): string | null {
  if (name === "") return "empty";
  if (name.length > 255 * 4) return "longer than 1020 characters";
  if (/\p{Cc}/u.test(name)) return "contains a control character (NUL, newline, ...)";
  // Names reach log lines and error messages. A bidirectional control (U+202E
  // reverses what follows), a zero-width or other invisible format character, or
  // a line separator makes such a line read as something else, so a manifest
  // could spoof what the log says was installed.
  if (/[\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) return "contains an invisible or bidirectional format character (such as U+202E or U+200B) or a line separator";
  if (/\p{Cs}/u.test(name)) return "is not valid Unicode (a lone surrogate)";
  // One spelling per name: "é" precomposed and "e" + U+0301 look the same in a log
  // line but are two different file names. NFC is what editors, Nix strings and
  // most file names use, so requiring it rejects only names that were made odd.
  if (name.normalize("NFC") !== name) return "is not in Unicode normalization form C (NFC); write it with precomposed characters";
  if (name.startsWith("/")) return "absolute (names are relative to secretsDir)";
  const segments = name.split("/");
  if (segments.some((segment) => segment === "..")) return 'contains ".."';
  if (segments.some((segment) => segment === "." || segment === "")) return 'contains an empty or "." path segment';
  if (segments.some((segment) => Buffer.byteLength(segment) > 255)) return "a path segment is longer than 255 bytes";
  return null;
}

function absolutePath(value: unknown, where: string, problem: (where: string, what: string) => void): string | null {
  if (typeof value !== "string") {
    problem(where, `must be an absolute path, found ${describe(value)}`);
    return null;
  }
  if (value.length > MAX_STRING_LENGTH) problem(where, `longer than ${MAX_STRING_LENGTH} characters`);
  else if (value.includes("\0")) problem(where, "contains a NUL byte");
  else if (!isAbsolute(value))
    problem(where, `must be an absolute path, found "${printable(value)}"${/^[$~]/.test(value) ? " (only activate --user expands $XDG_RUNTIME_DIR, $HOME and ~)" : ""}`);
  else if (normalize(value) !== value || (value.endsWith("/") && value !== "/")) {
    problem(where, `must be a normalized path (no "..", ".", "//" or trailing "/"), found "${printable(value)}"`);
  } else if (value === "/") problem(where, 'must not be "/"');
  else return value;
  return null;
}

function principal(value: unknown, problem: (what: string) => void): string | null {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < 2 ** 32 - 1) return String(value);
  if (typeof value === "string" && /^[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,255}\$?$/.test(value)) return value;
  problem(`must be a user or group name or a numeric id, found ${describe(value)}`);
  return null;
}

function fileMode(value: unknown, problem: (what: string) => void): number | null {
  if (value === undefined) return MANIFEST_DEFAULTS.mode;
  const parsed = typeof value === "string" ? parseMode(value) : null;
  if (parsed === null || "problem" in parsed) {
    const why = parsed !== null && "problem" in parsed ? `: ${parsed.problem}` : "";
    problem(
      `must be an octal permission string such as "0400" or a symbolic mode such as "u=r,g=r,o=", as chmod takes them (no setuid, setgid or sticky bits), found ${describe(value)}${why}`,
    );
    return null;
  }
  return parsed.mode;
}

function checkTargetsAreDistinct(secrets: SecretSpec[], problem: (where: string, what: string) => void): void {
  const owners = new Map<string, string>();
  for (const secret of secrets) {
    const earlier = owners.get(secret.path);
    if (earlier !== undefined) problem(`secret "${printable(secret.name)}" field "path"`, `${secret.path} is also the path of secret "${printable(earlier)}"`);
    else owners.set(secret.path, secret.name);
  }
  // A name that is a directory of another ("a" and "a/b") cannot be both a file and a directory.
  const names = new Set(secrets.map((secret) => secret.name));
  for (const secret of secrets) {
    const segments = secret.name.split("/");
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/");
      if (names.has(parent)) problem(`secret "${printable(secret.name)}"`, `its directory "${printable(parent)}" is also the name of a secret`);
    }
  }
}

/** True when `path` is `dir` or inside it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short, safe description of a bad value for an error message. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return `"${printable(value)}"`;
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a mapping";
  return String(value);
}
