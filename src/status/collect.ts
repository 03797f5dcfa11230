import { secretsMountKindAt } from "../activation/mount.js";
import type { Logger } from "../log.js";
import { MANIFEST_DEFAULTS, type Manifest } from "../manifest/types.js";
import { openContext } from "./context.js";
import { STATUS_SCHEMA_VERSION, type StatusReport, verdictOf } from "./report.js";
import { customPathsSection } from "./sections/custom-paths.js";
import { generationsSection } from "./sections/generations.js";
import { secretsSection } from "./sections/secrets.js";

export interface StatusOptions {
  /** The manifest to compare with, and where it was read; null: the default layout, nothing declared. */
  readonly manifest: { readonly path: string; readonly manifest: Manifest } | null;
  readonly log: Logger;
}

/**
 * `ageboot status`: read the host's state, section by section, into one
 * report. Each section is a function of the shared context returning its
 * data and findings (./sections/); a new one (templates) is a file there, a
 * field in StatusReport (./report.ts), a line here and a block in
 * ./format-text.ts. Nothing is written, no lock is taken (any user may ask),
 * and nothing is decrypted: files are stat'ed, headers read, copies compared.
 */
export async function collectStatus(options: StatusOptions): Promise<StatusReport> {
  const manifest = options.manifest?.manifest ?? null;
  const context = openContext({
    secretsDir: manifest?.secretsDir ?? MANIFEST_DEFAULTS.secretsDir,
    mountPoint: manifest?.secretsMountPoint ?? MANIFEST_DEFAULTS.secretsMountPoint,
    manifest,
    log: options.log,
  });
  try {
    const generations = await generationsSection(context);
    const secrets = await secretsSection(context);
    const customPaths = await customPathsSection(context);
    const findings = [...generations.findings, ...secrets.findings, ...customPaths.findings];
    return {
      version: STATUS_SCHEMA_VERSION,
      secretsDir: context.secretsDir,
      secretsMountPoint: context.mountPoint,
      secretsMount: secretsMountKindAt(context.mountPoint),
      manifest: options.manifest?.path ?? null,
      reader: { uid: context.uid, root: context.asRoot },
      ...verdictOf(findings),
      generations: generations.data,
      secrets: secrets.data,
      customPaths: customPaths.data,
      findings,
    };
  } finally {
    context.close();
  }
}
