import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { parseJsonRejectingDuplicates } from "./json.js";
import type { UserEnvironment } from "../user/environment.js";
import { expandUserPaths, userManifestDefaults, userPlacementProblems } from "../user/manifest.js";
import type { Manifest } from "./types.js";
import { validateManifest } from "./validate.js";

/** A manifest is configuration; a larger file is a mistake or an attack. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/**
 * The YAML parser, loaded only for YAML manifests. yaml is CommonJS: bundled,
 * its functions arrive on the namespace's `default`; unbundled, on the namespace.
 */
async function yamlParser(): Promise<typeof import("yaml").parse> {
  const yaml = (await import("yaml")) as typeof import("yaml") & { default?: typeof import("yaml") };
  return yaml.parse ?? yaml.default!.parse;
}

/**
 * Read and validate a manifest, JSON or YAML. A document that starts with "{"
 * is JSON; anything else goes to the YAML 1.2 parser, loaded only then. In both,
 * duplicate keys are an error, and YAML alias expansion is bounded (no "billion laughs").
 * For \`activate --user\` (\`user\` given), the user's defaults and leading
 * $XDG_RUNTIME_DIR / $HOME apply, and the secrets must stay in the runtime
 * directory (src/user/manifest.ts).
 */
export async function loadManifest(path: string, user?: UserEnvironment): Promise<Manifest> {
  let text: string;
  try {
    const fd = openSync(path, "r");
    try {
      // Sized before it is read: an oversized file is never loaded into memory.
      if (fstatSync(fd).size > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`);
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new AgebootError("MANIFEST", `${path}: cannot read manifest (${describeCause(error)})`, { cause: error });
  }
  let document: unknown;
  try {
    if (text.trimStart().startsWith("{")) document = parseJsonRejectingDuplicates(text);
    else {
      document = (await yamlParser())(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: false, strict: true, schema: "core" });
    }
  } catch (error) {
    const firstLine = describeCause(error).split("\n")[0];
    throw new AgebootError("MANIFEST", `${path}: not valid JSON or YAML (${firstLine})`, { cause: error });
  }
  const result = user === undefined ? validateManifest(document) : validateManifest(expandUserPaths(document, user), userManifestDefaults(user));
  const problems = "problems" in result ? result.problems : user === undefined ? [] : userPlacementProblems(result.manifest, user);
  if (problems.length > 0 || "problems" in result) {
    throw new AgebootError("MANIFEST", `${path}: invalid manifest:\n  ${problems.join("\n  ")}`);
  }
  return result.manifest;
}
