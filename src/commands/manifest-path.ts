import { existsSync } from "node:fs";

export const DEFAULT_MANIFESTS = ["/etc/ageboot/manifest.json", "/etc/ageboot/manifest.yaml"];

/** Where a command reads the manifest when --manifest is not given: the first default that exists. */
export function defaultManifestPath(): string {
  return DEFAULT_MANIFESTS.find((path) => existsSync(path)) ?? DEFAULT_MANIFESTS[0]!;
}
