/**
 * File modes as chmod(1) understands them, because agenix documents `mode` as
 * "a format understood by chmod" and its users write both "0440" and "u=r,g=r,o=".
 * Converted once, when the manifest is read, to the octal mode ageboot applies.
 *
 * Symbolic modes are applied to 0400, the mode agenix's decryption leaves a file
 * with before its `chmod` (it decrypts under `umask u=r,g=,o=`), so "a+r" means
 * 0444 here as it does there. Two deliberate limits, each a clear error:
 * - no setuid, setgid or sticky bits ("s", "t", or a fourth octal digit other
 *   than 0): a secret is not a program;
 * - every clause names who it is for ("u", "g", "o" or "a"): without one, chmod
 *   leaves out the bits of the umask, which differs between an activation
 *   script and a shell, so the same text could mean two modes.
 */
const START = 0o400;
const CLAUSE = /^([ugoa]+)((?:[-+=](?:[ugo]|[rwxX]*))+)$/;
const WHO_BITS: Record<string, number> = { u: 0o700, g: 0o070, o: 0o007, a: 0o777 };
const SHIFT: Record<string, number> = { u: 6, g: 3, o: 0 };

/** The octal mode for `text`, or why it is not one ageboot accepts. */
export function parseMode(text: string): { mode: number } | { problem: string } {
  if (/^[0-7]{1,4}$/.test(text)) {
    if (text.length === 4 && text[0] !== "0") return { problem: "setuid, setgid and sticky bits are not allowed on a secret" };
    return { mode: Number.parseInt(text, 8) };
  }
  let mode = START;
  for (const clause of text.split(",")) {
    const match = CLAUSE.exec(clause);
    if (!match) {
      const hint = /^[-+=]/.test(clause)
        ? ` (say who it is for: "a${clause}" or "u${clause}")`
        : /[st]/.test(clause)
          ? " (setuid, setgid and sticky bits are not allowed on a secret)"
          : "";
      return { problem: `"${clause}" is not a chmod mode clause${hint}` };
    }
    const who = [...match[1]!].reduce((bits, letter) => bits | WHO_BITS[letter]!, 0);
    for (const [, operator, permissions] of match[2]!.matchAll(/([-+=])([ugo]|[rwxX]*)/g)) {
      const bits = who & permissionBits(permissions!, mode);
      if (operator === "+") mode |= bits;
      else if (operator === "-") mode &= ~bits;
      else mode = (mode & ~who) | bits;
    }
  }
  return { mode };
}

/** The bits `permissions` stand for in every class, before they are limited to who the clause is for. */
function permissionBits(permissions: string, current: number): number {
  if (permissions.length === 1 && permissions in SHIFT) {
    const copied = (current >> SHIFT[permissions]!) & 0o7; // "g=u": the user's bits, copied
    return copied * 0o111;
  }
  let bits = 0;
  for (const letter of permissions) {
    if (letter === "r") bits |= 0o444;
    if (letter === "w") bits |= 0o222;
    // X: execute only where some class may execute already (chmod's rule for files).
    if (letter === "x" || (letter === "X" && (current & 0o111) !== 0)) bits |= 0o111;
  }
  return bits;
}
