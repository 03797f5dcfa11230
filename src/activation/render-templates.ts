import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import type { LoadedIdentity } from "../identities/types.js";
import { readFully } from "../read-fully.js";
import { openSecret, SourceSession } from "../sources/registry.js";
import { referencedSecrets } from "../templates/placeholder.js";
import { type OpenedSecret, renderTemplate } from "../templates/render.js";
import { ContentComparison } from "./content-comparison.js";
import { heldForTemplates } from "./hand-over.js";
import type { Ownership } from "./write-exclusive.js";
import type { SecretOutcome, TemplateOutcome } from "./outcome.js";
import { makeParentDirectories, type StagingTarget } from "./stage.js";
import { writeAll, writeExclusive } from "./write-exclusive.js";

/** Open what step 5 wrote without following a link, and without blocking on anything but a regular file. */
const OPEN_STAGED = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** Rendered bytes are compared with the current file in slices, so the comparison's scratch buffer stays small. */
const COMPARE_SLICE = 64 * 1024;

/**
 * Step 5b of a run: every planned template rendered into the new generation
 * as rendered/<name>, created and owned as a secret is (writeExclusive:
 * exclusive, root's 0400 until its owner, group and mode are set), and
 * compared with the current generation's file while written. A template
 * whose secret failed fails too, naming that secret.
 *
 * Where the secrets' plaintext comes from: the files step 5 just wrote into
 * the new generation, opened by descriptor (the generation is root's, 0751, on
 * the memory-backed mount: nobody else can have put anything there). Step 5
 * staged every secret a template names as its own user's 0400 (./hand-over.ts): no
 * other user has owned these files yet, so none can have rewritten them, and a
 * template holds exactly the bytes step 5 decrypted. Only a file that is still
 * ours (root's; with --user, the user's), with one link, is read. A dry run has no
 * generation: it decrypts the secrets a template names again, in memory.
 * Nothing is cached across templates: each secret is read, used and zeroed.
 */
export async function renderTemplates(
  templates: readonly TemplateOutcome[],
  secrets: readonly SecretOutcome[],
  target: StagingTarget,
  currentDir: string | null,
  identities: readonly LoadedIdentity[],
  /** Templates (rendered/<name>) rendered held, as the running user's 0400, until step 6 has copied them (./hand-over.ts). */
  heldForCopies: ReadonlySet<string> = new Set(),
): Promise<void> {
  const secretsByName = new Map(secrets.map((outcome) => [outcome.name, outcome]));
  const madeDirectories = new Set<string>();
  // A dry run's own session for decrypting again (sops files opened once for all templates), closed (zeroed) at the end.
  const session = target === null && templates.length > 0 ? new SourceSession(identities) : null;
  try {
    for (const template of templates) {
      const ownership = heldForCopies.has(template.fileName) ? heldForTemplates() : template.ownership!;
      await renderOne(template, ownership, secretsByName, target, currentDir, session, madeDirectories);
    }
  } finally {
    session?.close();
  }
}

/** One template: failed with its secret, or rendered (compared only, in a dry run). */
async function renderOne(
  template: TemplateOutcome,
  ownership: Ownership,
  secretsByName: ReadonlyMap<string, SecretOutcome>,
  target: StagingTarget,
  currentDir: string | null,
  session: SourceSession | null,
  madeDirectories: Set<string>,
): Promise<void> {
  if (template.failed !== null || template.parts === null) return;
  const parts = template.parts;
  const failedSecret = referencedSecrets(parts)
    .map((name) => secretsByName.get(name)!)
    .find((secret) => secret.failed !== null);
  if (failedSecret !== undefined) {
    const { code, message } = failedSecret.failed!;
    template.fail(new AgebootError(code, `secret "${failedSecret.name}" failed: ${message}`));
    return;
  }
  const open = (name: string) => (target === null ? decryptAgain(secretsByName.get(name)!, session!) : readStaged(`${target.directory}/${name}`));
  const currentFile = currentDir === null ? null : `${currentDir}/${template.fileName}`;
  try {
    await renderTemplate(parts, open, async (rendered) => {
      const comparison = new ContentComparison(currentFile, rendered.length);
      for (let offset = 0; offset < rendered.length; offset += COMPARE_SLICE) comparison.update(rendered.subarray(offset, offset + COMPARE_SLICE));
      if (target !== null) {
        makeParentDirectories(target.directory, template.fileName, target.keysGid, madeDirectories);
        const file = `${target.directory}/${template.fileName}`;
        await writeExclusive(file, ownership, async (fd) => writeAll(fd, rendered, file));
      }
      template.staged(comparison.matches(), rendered.length);
    });
  } catch (error) {
    template.fail(error instanceof AgebootError ? error : new AgebootError("IO", `cannot render (${describeCause(error)})`));
  }
}

/** A secret step 5 wrote into the new generation, by descriptor. */
async function readStaged(path: string): Promise<OpenedSecret> {
  let fd: number | null = openSync(path, OPEN_STAGED);
  const info = fstatSync(fd);
  const close = async () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  // Still held (./hand-over.ts): the running user's (root's), one link; no other user has owned it.
  if (!info.isFile() || info.uid !== (process.geteuid?.() ?? 0) || info.nlink !== 1) {
    await close();
    throw new AgebootError("IO", `${path}: not the file step 5 wrote (${info.isFile() ? `owned by uid ${info.uid}, ${info.nlink} links` : "not a regular file"})`);
  }
  return {
    size: info.size,
    read: async () => {
      const bytes = Buffer.alloc(info.size);
      if (readFully(fd!, bytes, 0) !== info.size) {
        bytes.fill(0);
        throw new AgebootError("IO", `${path}: shorter than when it was opened`);
      }
      return bytes;
    },
    close,
  };
}

/** A dry run's secret: decrypted again from its source, into memory. */
async function decryptAgain(secret: SecretOutcome, session: SourceSession): Promise<OpenedSecret> {
  const plaintext = await openSecret(secret.secret, session);
  return {
    size: plaintext.size,
    read: async () => {
      const bytes = Buffer.alloc(plaintext.size);
      let offset = 0;
      try {
        await plaintext.pipeTo((chunk) => {
          offset += chunk.copy(bytes, offset);
          chunk.fill(0);
        });
      } catch (error) {
        bytes.fill(0);
        throw error;
      }
      return bytes;
    },
    close: () => plaintext.close(),
  };
}
