import { isAbsolute, normalize, posix } from "node:path";
import { forbiddenCustomPathReason } from "./forbidden-paths.js";
import { parseMode } from "./mode.js";
import { printable } from "./printable.js";
import { parseTemplate } from "../templates/placeholder.js";
import { MAX_TEMPLATE_BYTES } from "../templates/template-text.js";
import { secretKey } from "./sops-key.js";
import {
  type DeclaredItem,
  KEEP_ALL_GENERATIONS,
  type KeepGenerations,
  MANIFEST_DEFAULTS,
  type Manifest,
  type ManifestDefaults,
  RENDERED_DIRECTORY,
  SECRET_FORMATS,
  type SecretFormat,
  type SecretSpec,
  type TemplateSource,
  type TemplateSpec,
} from "./types.js";
import { parseUnitList } from "./units.js";

const topLevelFields = new Set(["version", "secretsDir", "secretsMountPoint", "identityPaths", "keepGenerations", "secrets", "templates"]);
const declaredFields = ["path", "owner", "group", "mode", "symlink", "restartUnits", "reloadUnits"];
const secretFields = new Set(["file", "format", "key", ...declaredFields]);
const templateFields = new Set(["content", "file", ...declaredFields]);
/** Generous, but bounded: a manifest is configuration, not data. */
const MAX_STRING_LENGTH = 4096;
const MAX_SECRETS = 100_000;
const MAX_TEMPLATES = 100_000;

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
  if (keepGenerations !== KEEP_ALL_GENERATIONS && (!Number.isSafeInteger(keepGenerations) || (keepGenerations as number) < 0)) {
    problem("keepGenerations", `must be a whole number >= 0 (previous generations kept) or "${KEEP_ALL_GENERATIONS}" (never prune), found ${describe(keepGenerations)}`);
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
  checkTargetsAreDistinct(secrets, "secret", problem);

  const templates: TemplateSpec[] = [];
  const rawTemplates = input["templates"] ?? {};
  if (!isRecord(rawTemplates)) problem("templates", "must be a mapping from template name to its settings");
  else {
    const names = Object.keys(rawTemplates);
    // Every name declared, valid or not: a secret with a problem of its own is not also "unknown" to a template.
    const secretNames = isRecord(rawSecrets) ? Object.keys(rawSecrets) : [];
    const where = { secretsDir: secretsDir ?? defaults.secretsDir, secretsMountPoint: secretsMountPoint ?? undefined, identityPaths, owner: defaults.owner, group: defaults.group };
    if (names.length > MAX_TEMPLATES) problem("templates", `more than ${MAX_TEMPLATES} templates`);
    else
      for (const name of names) {
        const spec = validateTemplate(name, rawTemplates[name], where, secretNames, problem);
        if (spec) templates.push(spec);
      }
    if (names.length > 0) reserveRenderedDirectory(secrets, problem);
  }
  checkTargetsAreDistinct(templates, "template", problem);
  checkPathsAreDistinct([...secrets, ...templates], problem);

  if (problems.length > 0 || !secretsDir || !secretsMountPoint) return { problems };
  return {
    manifest: { version: 1, secretsDir, secretsMountPoint, identityPaths, keepGenerations: keepGenerations as KeepGenerations, secrets, templates },
  };
}

/** Where declared items live, and the owner and group they get when they name none (root's, or with --user the user's). */
interface DeclaredDefaults {
  readonly secretsDir: string;
  readonly secretsMountPoint: string | undefined;
  readonly identityPaths: readonly string[];
  readonly owner: string;
  readonly group: string | undefined;
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
  const where = { secretsDir, secretsMountPoint, identityPaths, owner: defaultOwner, group: defaultGroup };
  const declared = validateDeclared("secret", name, raw, posix.join(secretsDir, name), where, problem, secretFields);
  if (declared === null) return null;
  const { item, settings, report } = declared;
  const file = absolutePath(settings["file"], "", (_, what) => report("file", settings["file"] === undefined ? "is required" : what));
  const format = settings["format"] ?? MANIFEST_DEFAULTS.format;
  if (!SECRET_FORMATS.includes(format as SecretFormat)) report("format", `must be one of ${SECRET_FORMATS.map((known) => `"${known}"`).join(", ")}, found ${describe(format)}`);
  const key = SECRET_FORMATS.includes(format as SecretFormat) ? secretKey(name, format as SecretFormat, settings["key"], (what) => report("key", what)) : undefined;
  if (item === null || !file || !declared.valid()) return null;
  return { ...item, format: format as SecretFormat, ...(key === undefined ? {} : { key }), file };
}

function validateTemplate(
  name: string,
  raw: unknown,
  where: DeclaredDefaults,
  secretNames: readonly string[],
  problem: (where: string, what: string) => void,
): TemplateSpec | null {
  const defaultPath = posix.join(where.secretsDir, RENDERED_DIRECTORY, name);
  const declared = validateDeclared("template", name, raw, defaultPath, where, problem, templateFields);
  if (declared === null) return null;
  const { item, settings, report } = declared;
  const hasContent = settings["content"] !== undefined;
  const hasFile = settings["file"] !== undefined;
  let source: TemplateSource | null = null;
  if (hasContent === hasFile) report(undefined, hasContent ? 'has both "content" and "file"; give one' : 'needs "content" (the text) or "file" (a file holding it)');
  else if (hasFile) {
    const file = absolutePath(settings["file"], "", (_, what) => report("file", what));
    if (file) source = { file };
  } else if (typeof settings["content"] !== "string") report("content", `must be the template's text, found ${describe(settings["content"])}`);
  else {
    const bytes = Buffer.from(settings["content"], "utf8");
    if (bytes.length > MAX_TEMPLATE_BYTES) report("content", `${bytes.length} bytes, more than the ${MAX_TEMPLATE_BYTES} bytes (1 MiB) a template may hold`);
    else {
      // Checked here, so that `ageboot check` and every run refuse it before touching anything.
      const parsed = parseTemplate(bytes, secretNames);
      if ("problems" in parsed) for (const what of parsed.problems) report("content", what);
      else source = { content: settings["content"] };
    }
  }
  if (item === null || source === null || !declared.valid()) return null;
  return { ...item, source };
}

/**
 * What secrets and templates share: the name, and path, owner, group, mode,
 * symlink, restartUnits and reloadUnits, each checked and defaulted alike.
 * Returns the item (null when a field is wrong, every problem reported), the
 * raw settings for the caller's own fields, and how to report on them.
 */
function validateDeclared(
  kind: "secret" | "template",
  name: string,
  raw: unknown,
  defaultPath: string,
  where: DeclaredDefaults,
  problem: (where: string, what: string) => void,
  fields: ReadonlySet<string>,
): { item: DeclaredItem | null; settings: Record<string, unknown>; report: (field: string | undefined, what: string) => void; valid: () => boolean } | null {
  const { secretsDir, secretsMountPoint, identityPaths } = where;
  const at = (field?: string) => `${kind} "${printable(name)}"${field ? ` field "${field}"` : ""}`;
  let valid = true;
  const report = (field: string | undefined, what: string) => {
    valid = false;
    problem(at(field), what);
  };
  const nameProblem = secretNameProblem(name);
  if (nameProblem) report(undefined, `invalid name: ${nameProblem}`);
  if (!isRecord(raw)) {
    report(undefined, kind === "secret" ? 'settings must be a mapping with at least "file"' : 'settings must be a mapping with "content" or "file"');
    return null;
  }
  for (const field of Object.keys(raw)) if (!fields.has(field)) report(field, "unknown field");

  const path = raw["path"] === undefined ? defaultPath : absolutePath(raw["path"], "", (_, what) => report("path", what));
  if (path && path !== defaultPath) {
    if (isWithin(path, secretsDir)) report("path", `a custom path must not be inside secretsDir (${secretsDir}); leave "path" unset for ${defaultPath}`);
    else if (secretsMountPoint && isWithin(path, secretsMountPoint)) report("path", `must not be inside secretsMountPoint (${secretsMountPoint})`);
    else {
      const forbidden = forbiddenCustomPathReason(path, { secretsDir, secretsMountPoint: secretsMountPoint ?? MANIFEST_DEFAULTS.secretsMountPoint, identityPaths });
      if (forbidden) report("path", forbidden);
    }
  }
  const owner = principal(raw["owner"] ?? where.owner, (what) => report("owner", what));
  const group = raw["group"] === undefined || raw["group"] === null ? where.group : principal(raw["group"], (what) => report("group", what));
  const mode = fileMode(raw["mode"], (what) => report("mode", what));
  const symlink = raw["symlink"] ?? MANIFEST_DEFAULTS.symlink;
  if (typeof symlink !== "boolean") report("symlink", `must be true or false, found ${describe(symlink)}`);
  const restartUnits = parseUnitList(raw["restartUnits"], (what) => report("restartUnits", what));
  const reloadUnits = parseUnitList(raw["reloadUnits"], (what) => report("reloadUnits", what));

  const complete = valid && path && owner !== null && group !== null && mode !== null && restartUnits !== null && reloadUnits !== null;
  const item = complete ? { name, path, owner, group, mode, symlink: symlink as boolean, restartUnits, reloadUnits } : null;
  return { item, settings: raw, report, valid: () => valid };
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

/** Two items of any kind never share a path users read. */
function checkPathsAreDistinct(items: readonly (DeclaredItem & { source?: unknown })[], problem: (where: string, what: string) => void): void {
  const owners = new Map<string, string>();
  for (const item of items) {
    const described = `${"source" in item ? "template" : "secret"} "${printable(item.name)}"`;
    const earlier = owners.get(item.path);
    if (earlier !== undefined) problem(`${described} field "path"`, `${item.path} is also the path of ${earlier}`);
    else owners.set(item.path, described);
  }
}

/** A name that is a directory of another of the same kind ("a" and "a/b") cannot be both a file and a directory. */
function checkTargetsAreDistinct(items: readonly DeclaredItem[], kind: "secret" | "template", problem: (where: string, what: string) => void): void {
  const names = new Set(items.map((item) => item.name));
  for (const item of items) {
    const segments = item.name.split("/");
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/");
      if (names.has(parent)) problem(`${kind} "${printable(item.name)}"`, `its directory "${printable(parent)}" is also the name of a ${kind}`);
    }
  }
}

/** With templates, a generation's rendered/ directory is theirs: no secret may be named into it. */
function reserveRenderedDirectory(secrets: readonly SecretSpec[], problem: (where: string, what: string) => void): void {
  for (const secret of secrets) {
    if (isWithin(secret.name, RENDERED_DIRECTORY)) {
      problem(
        `secret "${printable(secret.name)}"`,
        `invalid name: "${RENDERED_DIRECTORY}" holds the rendered templates (secretsDir/${RENDERED_DIRECTORY}/<template>) when the manifest declares templates; rename the secret`,
      );
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
