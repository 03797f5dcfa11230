import { existsSync } from "node:fs";
import { AgebootError } from "../errors.js";

/** The arguments every command that reads a manifest shares (activate, chown, check). */
export const DEFAULT_MANIFESTS = ["/etc/ageboot/manifest.json", "/etc/ageboot/manifest.yaml"];

/** Where a command reads the manifest when --manifest is not given: the first default that exists. */
export function defaultManifestPath(candidates: readonly string[] = DEFAULT_MANIFESTS): string {
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!;
}

/** These commands take options only; a stray word is most likely a manifest path without --manifest. */
export function refusePositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0) throw new AgebootError("USAGE", `${command} takes no arguments (got "${positionals[0]}"); use --manifest PATH`);
}

/** --lock-timeout SECONDS, 120 when not given. */
export function lockTimeoutSeconds(text: string | undefined): number {
  const seconds = Number(text ?? 120);
  if (!Number.isFinite(seconds) || seconds < 0) throw new AgebootError("USAGE", "--lock-timeout takes a number of seconds");
  return seconds;
}
