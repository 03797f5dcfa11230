import { closeSync, constants, fchmodSync, fchownSync, fstatSync, openSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { referencedSecrets } from "../templates/placeholder.js";
import type { Outcome, TemplateOutcome } from "./outcome.js";
import { hasCustomPath } from "./plan.js";
import type { Ownership } from "./write-exclusive.js";

/** Open what step 5 wrote without following a link, and without blocking on anything but a regular file. */
const OPEN_STAGED = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * How step 5 stages a secret that a template names: the running user's (root's,
 * or with --user the user's own), 0400, whatever its declared owner. Its owner
 * gets it only after step 5b has rendered every template from it
 * (handOverHeldSecrets): a file its owner owns, its owner can rewrite (chmod u+w
 * is theirs to do), and a template rendered from it would then hold whatever
 * they wrote, in a file that may be root's (issue 22, item 1).
 */
export function heldForTemplates(): Ownership {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, mode: 0o400 };
}

/**
 * The secrets step 5 must stage held (heldForTemplates): those named by a
 * template that will be rendered. Secrets no template names are given to
 * their owners while staged, as before.
 */
export function secretsHeldForTemplates(templates: readonly TemplateOutcome[]): Set<string> {
  const held = new Set<string>();
  for (const template of templates) {
    if (template.failed !== null || template.parts === null) continue;
    for (const name of referencedSecrets(template.parts)) held.add(name);
  }
  return held;
}

/**
 * The items (secrets, and templates as rendered/<name>) step 5 and 5b must
 * stage held because step 6 copies them to a `symlink: false` custom path: the
 * copy is read from the generation's file, and a file its owner owns its owner
 * can grow (chmod u+w, truncate -s 1T: a sparse file root would copy in full
 * into the custom path's file system). They go to their owners after step 6
 * (handOverHeldItems), when the copies are made.
 */
export function itemsHeldForCopies(outcomes: readonly Outcome[], secretsDir: string): Set<string> {
  const held = new Set<string>();
  for (const outcome of outcomes) {
    if (outcome.failed === null && !outcome.declared.symlink && hasCustomPath(outcome, secretsDir)) held.add(outcome.fileName);
  }
  return held;
}

/**
 * After step 5b (the secrets only templates hold) and after step 6 (the items
 * copies were made from): every held item given its declared owner, group and mode,
 * through a descriptor, in the order writeExclusive uses (owner bits while
 * root still owns it, then owner and group, then the rest), so that it is never
 * more readable than its final state. Until now only ageboot's user could
 * have written it (its 0400, in a generation only that user may write): the
 * templates hold exactly what step 5 decrypted. A secret that cannot be handed
 * over fails, and so does every template rendered from it.
 */
export function handOverHeldItems(generationDir: string, items: readonly Outcome[], templates: readonly TemplateOutcome[], held: ReadonlySet<string>): void {
  const heldAs = heldForTemplates();
  const failed = new Map<string, AgebootError>();
  for (const item of items) {
    if (!held.has(item.fileName) || !item.isStaged) continue;
    try {
      handOver(`${generationDir}/${item.fileName}`, heldAs, item.ownership!);
    } catch (error) {
      const failure = error instanceof AgebootError ? error : new AgebootError("IO", `${generationDir}/${item.fileName}: cannot give to its owner (${describeCause(error)})`);
      item.fail(failure);
      if (item.kind === "secret") failed.set(item.name, failure);
    }
  }
  if (failed.size === 0) return;
  for (const template of templates) {
    if (!template.isStaged || template.parts === null) continue;
    const name = referencedSecrets(template.parts).find((secret) => failed.has(secret));
    if (name !== undefined) template.fail(new AgebootError(failed.get(name)!.code, `secret "${name}" failed: ${failed.get(name)!.message}`));
  }
}

function handOver(path: string, heldAs: Ownership, ownership: Ownership): void {
  const fd = openSync(path, OPEN_STAGED);
  try {
    const info = fstatSync(fd);
    // Defence in depth: exactly what step 5 made (regular, one link, still held: ours, 0400).
    if (!info.isFile() || info.nlink !== 1 || info.uid !== heldAs.uid || (info.mode & 0o7777) !== heldAs.mode) {
      throw new AgebootError("IO", `${path}: not the file step 5 wrote; refusing to give it to its owner`);
    }
    if (ownership.uid === heldAs.uid && ownership.gid === heldAs.gid && ownership.mode === heldAs.mode) return;
    fchmodSync(fd, ownership.mode & 0o700);
    crashPoint("chmod held secret (owner bits)");
    fchownSync(fd, ownership.uid, ownership.gid);
    crashPoint("chown held secret");
    fchmodSync(fd, ownership.mode);
    crashPoint("chmod held secret");
  } finally {
    closeSync(fd);
  }
}
