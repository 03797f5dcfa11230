/** The formats a secret's `file` may have; the stage step opens each through src/sources/registry.ts. */
export const SECRET_FORMATS = ["age", "yaml", "json", "dotenv", "ini", "binary"] as const;
export type SecretFormat = (typeof SECRET_FORMATS)[number];

/** Where a secret's plaintext comes from: plain data, so that it can go to a worker thread. */
export interface SecretSource {
  readonly format: SecretFormat;
  /** The encrypted file. */
  readonly file: string;
  /**
   * sops formats: the "/"-separated key path of the value; "" is the whole
   * file (and dotenv, INI and binary are always whole). Absent for age.
   */
  readonly key?: string;
}

/**
 * What every declared item has, a secret or a template, whatever makes its
 * content: what the steps after staging (ownership, custom paths, changes,
 * restarts, the report) read.
 */
export interface DeclaredItem {
  /** As declared; may contain "/" for sub-directories. */
  readonly name: string;
  /** Where users read it: secretsDir/<name> (a template: secretsDir/rendered/<name>), or a custom path. */
  readonly path: string;
  /** User name or numeric id. */
  readonly owner: string;
  /** Group name or numeric id; undefined means the owner's primary group. */
  readonly group: string | undefined;
  readonly mode: number;
  /** For a custom path: a symlink to secretsDir/<name> (true) or a copy (false). */
  readonly symlink: boolean;
  /** systemd units to restart when this item is added, changed or removed (full names, deduplicated; ./units.ts). */
  readonly restartUnits: readonly string[];
  /** systemd units to reload (or restart, when they cannot reload) when it is added, changed or removed. */
  readonly reloadUnits: readonly string[];
}

/** A secret as declared, with every default filled in. Its file in a generation is <name>. */
export interface SecretSpec extends SecretSource, DeclaredItem {}

/**
 * The directory, inside a generation, of templates' rendered files: a
 * template's file is rendered/<name>, read at secretsDir/rendered/<name>, as
 * sops-nix lays them out. Declaring a template reserves the name for it.
 */
export const RENDERED_DIRECTORY = "rendered";

/** Where a template's text comes from: the manifest itself, or a file (read as ciphertext files are, src/sources/trusted-ciphertext.ts). */
export type TemplateSource = { readonly content: string } | { readonly file: string };

/**
 * A template as declared (docs/lifecycle.md, "Templates"): text with
 * placeholders (src/templates/placeholder.ts), each replaced by the plaintext
 * of the secret it names when the template is rendered into the generation.
 */
export interface TemplateSpec extends DeclaredItem {
  readonly source: TemplateSource;
}

/** Manifest version 1, validated, with defaults applied (README, docs/design.md). */
export interface Manifest {
  readonly version: 1;
  readonly secretsDir: string;
  readonly secretsMountPoint: string;
  readonly identityPaths: readonly string[];
  readonly keepGenerations: KeepGenerations;
  readonly secrets: readonly SecretSpec[];
  readonly templates: readonly TemplateSpec[];
}

/**
 * How many generations before the current one survive a run: a number (0: only
 * the current one, as agenix keeps), or "all" (never prune, as sops-nix's
 * `keepGenerations = 0`). docs/lifecycle.md maps agenix's and sops-nix's settings onto it.
 */
export type KeepGenerations = number | typeof KEEP_ALL_GENERATIONS;
export const KEEP_ALL_GENERATIONS = "all";

/** agenix's defaults, so that existing configurations keep working. */
export const MANIFEST_DEFAULTS = {
  secretsDir: "/run/agenix",
  secretsMountPoint: "/run/agenix.d",
  identityPaths: ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"],
  keepGenerations: 1,
  format: "age",
  owner: "root",
  mode: 0o400,
  symlink: true,
} as const;

/**
 * The defaults that depend on whose secrets these are: the host's (the
 * constants above) or, for \`activate --user\`, the user's (src/user/manifest.ts).
 */
export interface ManifestDefaults {
  readonly secretsDir: string;
  readonly secretsMountPoint: string;
  readonly identityPaths: readonly string[];
  readonly owner: string;
  /** When set, the group of a secret that names none (else the owner's primary group). */
  readonly group?: string;
}
