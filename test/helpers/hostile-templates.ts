import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { placeholderFor } from "../../src/templates/placeholder.js";

/**
 * The hostile template corpus (issue 22, item 6): a template's text, or the
 * file it comes from, made by someone who wants a root-owned file to hold
 * what they choose, a secret they may not read, or the whole run to fail.
 * Each case builds its template settings inside `dir` (the secret "good" is
 * declared, "big" holds 17 MiB, "kib" 4 KiB); every one must fail that template with a
 * clear error naming it, and the current generation must stay as it was.
 * `attacker` is a real unprivileged user (uid, gid).
 */
export type HostileTemplate = [string, (dir: string, attacker: { uid: number; gid: number }) => Record<string, unknown>];

const GOOD = placeholderFor("good");
let files = 0;

/** A template file only root can have written, holding `text`. */
function rootFile(dir: string, text: string): { file: string } {
  const file = join(dir, `root-${files++}.tmpl`);
  writeFileSync(file, text, { mode: 0o644 });
  return { file };
}

export const hostileTemplates: readonly HostileTemplate[] = [
  [
    "a template file its attacker owns (they would choose which secrets go into a file they read)",
    (dir, attacker) => {
      const file = join(dir, "owned.tmpl");
      writeFileSync(file, `x=${GOOD}`);
      chownSync(file, attacker.uid, attacker.gid);
      return { file };
    },
  ],
  [
    "a root template file in a directory its attacker can write (they could swap it)",
    (dir, attacker) => {
      const theirs = join(dir, "theirs");
      mkdirSync(theirs);
      chownSync(theirs, attacker.uid, attacker.gid);
      const file = join(theirs, "t.tmpl");
      writeFileSync(file, `x=${GOOD}`);
      return { file };
    },
  ],
  [
    "a root symlink to a template file its attacker owns",
    (dir, attacker) => {
      const target = join(dir, "target.tmpl");
      writeFileSync(target, `x=${GOOD}`);
      chownSync(target, attacker.uid, attacker.gid);
      const file = join(dir, "link.tmpl");
      symlinkSync(target, file);
      return { file };
    },
  ],
  [
    "a template file that is a FIFO (must not wait for a writer)",
    (dir) => {
      const file = join(dir, "fifo.tmpl");
      execFileSync("mkfifo", [file]);
      return { file };
    },
  ],
  ["a template file that is /dev/zero (endless)", () => ({ file: "/dev/zero" })],
  [
    "a template file of 2 MiB (more than a template may hold)",
    (dir) => {
      const file = join(dir, "huge.tmpl");
      writeFileSync(file, "");
      truncateSync(file, 2 * 1024 * 1024);
      return { file };
    },
  ],
  // In a template file (inline content with these is an invalid manifest, refused before anything runs).
  ["a placeholder of an undeclared secret", (dir) => rootFile(dir, `x=${placeholderFor("not-declared")}`)],
  ["sops-nix's placeholder of an undeclared secret", (dir) => rootFile(dir, `x=${placeholderFor("not-declared").replace("<AGEBOOT:", "<SOPS:")}`)],
  ["a placeholder that is not a SHA-256", (dir) => rootFile(dir, "x=<AGEBOOT:good:PLACEHOLDER>")],
  ["a sops-nix placeholder that is not a SHA-256", (dir) => rootFile(dir, "x=<SOPS:good:PLACEHOLDER>")],
  ["a secret of 17 MiB, more than a rendered template may hold", () => ({ content: `x=${placeholderFor("big")}` })],
  ["12,000 placeholders of a 4 KiB secret, rendering to 48 MiB", () => ({ content: placeholderFor("kib").repeat(12_000) })],
  ["an owner who does not exist", () => ({ content: `x=${GOOD}`, owner: "agetest-nobody" })],
];
