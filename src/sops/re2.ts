import { setFlagsFromString } from "node:v8";
import { AgebootError } from "../errors.js";

let linearEngineEnabled = false;

/**
 * A sops selection regex (Go RE2 syntax, unanchored search) as a JavaScript
 * RegExp that runs in linear time. The regex comes from the file, so a
 * backtracking engine would let a crafted pattern such as `(a+)+$` hang the
 * boot; V8's non-backtracking engine (flag `l`) has RE2's guarantee and, like
 * RE2, refuses backreferences and lookaround.
 *
 * RE2 syntax JavaScript lacks is translated where the meaning is the same:
 * leading inline flags `(?s)` `(?m)` become RegExp flags, `(?i)` becomes
 * ASCII letters spelled as `[aA]` (the linear engine has no `i` flag, and
 * refuses it for non-ASCII letters), `(?P<name>`
 * becomes `(?<name>`, `\A` and `\z` become `^` and `$` (outside multi-line
 * mode they mean the same). Anything else JavaScript reads differently is
 * refused with a message: POSIX classes `[[:alpha:]]`, `\Q…\E`, `\C`, `(?U)`,
 * inline flags in the middle of a pattern, and `\pL`-style one-letter classes.
 * The linear engine also has no `u` flag: `.` matches one UTF-16 unit, so a
 * pattern that counts characters beyond U+FFFF can differ from RE2 (key names
 * with such characters are rare; they are matched, just counted differently).
 */
export function compileRe2(pattern: string, where: string): RegExp {
  const refuse = (why: string) => new AgebootError("MALFORMED", `${where} "${pattern.slice(0, 80)}" uses RE2 syntax ageboot cannot run: ${why}`);
  if (pattern.length > 1024) throw refuse("longer than 1024 characters");
  let source = pattern;
  let flags = "";
  const leading = /^\(\?([imsU]+)\)/.exec(source);
  if (leading) {
    if (leading[1]!.includes("U")) throw refuse("the U (ungreedy) flag");
    flags = [...new Set(leading[1])].join("");
    source = source.slice(leading[0].length);
  }
  const caseless = flags.includes("i");
  flags = flags.replace("i", "");
  if (/\[\[:\^?[a-z]+:\]\]|\[:\^?[a-z]+:\]/.test(source)) throw refuse("a POSIX character class such as [[:alpha:]]");
  if (/\\[QEC]/.test(source)) throw refuse("\\Q…\\E or \\C");
  if (/\(\?[imsU-]+[:)]/.test(source)) throw refuse("inline flags inside the pattern");
  if (/\\[pP][A-Za-z]/.test(source)) throw refuse("a one-letter Unicode class without braces (write \\p{L})");
  source = source.replaceAll("(?P<", "(?<").replaceAll("\\A", "^").replaceAll("\\z", "$");
  if (caseless) {
    if ([...source].some((character) => character.charCodeAt(0) > 0x7f)) throw refuse("(?i) with non-ASCII letters");
    source = foldAsciiCase(source);
  }
  if (!linearEngineEnabled) {
    setFlagsFromString("--enable-experimental-regexp-engine");
    linearEngineEnabled = true;
  }
  try {
    return new RegExp(source, `${flags}l`);
  } catch (error) {
    throw refuse((error as Error).message.replace(/^Invalid regular expression: /, ""));
  }
}

/** ASCII letters outside escapes and group names as `[aA]`, inside classes as `aA`. */
function foldAsciiCase(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const brace = source[i + 1] === "p" || source[i + 1] === "P" ? source.indexOf("}", i) : -1;
      const end = brace > 0 ? brace + 1 : i + 2;
      out += source.slice(i, end);
      i = end - 1;
    } else if (!inClass && source.startsWith("(?<", i) && source[i + 3] !== "=" && source[i + 3] !== "!") {
      const end = source.indexOf(">", i) + 1;
      out += source.slice(i, end);
      i = end - 1;
    } else if (c === "[" && !inClass) {
      inClass = true;
      out += c;
    } else if (c === "]" && inClass) {
      inClass = false;
      out += c;
    } else if (/[a-zA-Z]/.test(c)) {
      const both = `${c.toLowerCase()}${c.toUpperCase()}`;
      out += inClass ? both : `[${both}]`;
    } else out += c;
  }
  return out;
}
