import { posix } from "node:path";
import { isWithin } from "../manifest/validate.js";
import type { Manifest, ManifestDefaults } from "../manifest/types.js";
import type { UserEnvironment } from "./environment.js";

/**
 * A user's defaults, as agenix's home-manager module has them
 * (ryantm/agenix, modules/age-home.nix): secrets in $XDG_RUNTIME_DIR/agenix,
 * generations in $XDG_RUNTIME_DIR/agenix.d, the user's own SSH keys, and every
 * secret the user's, with their primary group.
 */
export function userManifestDefaults(user: UserEnvironment): ManifestDefaults {
  return {
    secretsDir: `${user.runtimeDir}/agenix`,
    secretsMountPoint: `${user.runtimeDir}/agenix.d`,
    identityPaths: [posix.join(user.home, ".ssh/id_ed25519"), posix.join(user.home, ".ssh/id_rsa")],
    owner: String(user.uid),
    group: String(user.gid),
  };
}

/** A leading variable of the session, then "/" or the end: all that is expanded (no other variables, no ~user). */
const LEADING_VARIABLE = /^(\$\{XDG_RUNTIME_DIR\}|\$XDG_RUNTIME_DIR|\$\{HOME\}|\$HOME|~)(?=\/|$)/;

/**
 * The paths of a parsed manifest with a leading $XDG_RUNTIME_DIR, ${XDG_RUNTIME_DIR},
 * $HOME, ${HOME} or ~ replaced by the user's. agenix's home-manager module writes
 * its paths so ("${XDG_RUNTIME_DIR}/agenix/<name>", for the shell to expand),
 * and a configuration that reads `config.age.secrets.<name>.path` gets that
 * string: the manifest keeps it, and ageboot expands it as the shell would have.
 * Applied to the raw document, before validation, to secretsDir,
 * secretsMountPoint, identityPaths and each secret's and template's file and path; anything
 * else stays as written and is validated as such.
 */
export function expandUserPaths(document: unknown, user: UserEnvironment): unknown {
  if (!isRecord(document)) return document;
  const expand = (value: unknown): unknown =>
    typeof value === "string" ? value.replace(LEADING_VARIABLE, (variable) => (variable.includes("XDG_RUNTIME_DIR") ? user.runtimeDir : user.home)) : value;
  const expanded: Record<string, unknown> = { ...document };
  for (const field of ["secretsDir", "secretsMountPoint"]) if (field in expanded) expanded[field] = expand(expanded[field]);
  if (Array.isArray(expanded["identityPaths"])) expanded["identityPaths"] = expanded["identityPaths"].map(expand);
  // Secrets and templates alike (sops-nix's home-manager module puts both under $XDG_RUNTIME_DIR with `%r`).
  for (const kind of ["secrets", "templates"]) {
    const items = expanded[kind];
    if (!isRecord(items)) continue;
    expanded[kind] = Object.fromEntries(
      Object.entries(items).map(([name, settings]) => {
        if (!isRecord(settings)) return [name, settings];
        const copy: Record<string, unknown> = { ...settings };
        for (const field of ["file", "path"]) if (field in copy) copy[field] = expand(copy[field]);
        return [name, copy];
      }),
    );
  }
  return expanded;
}

/**
 * Where --user may keep secrets: secretsDir and the generations strictly inside
 * $XDG_RUNTIME_DIR, the user's own tmpfs (src/user/runtime-directory.ts checks
 * it is one). Nobody but the user and root can add or rename anything there, so
 * the generations, the links and the lock beside them are safe to use by name.
 */
export function userPlacementProblems(manifest: Manifest, user: UserEnvironment): string[] {
  const inside = (path: string) => path !== user.runtimeDir && isWithin(path, user.runtimeDir);
  const problems: string[] = [];
  for (const [field, path] of [
    ["secretsDir", manifest.secretsDir],
    ["secretsMountPoint", manifest.secretsMountPoint],
  ] as const) {
    if (!inside(path)) {
      problems.push(`${field}: with --user it must be inside $XDG_RUNTIME_DIR (${user.runtimeDir}), your memory-backed runtime directory; found ${path}`);
    }
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
