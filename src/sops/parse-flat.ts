import { AgebootError } from "../errors.js";
import { TreeBudget } from "./limits.js";
import { str, type SopsComment, type SopsMap, type SopsMapEntry } from "./tree.js";

/**
 * The dotenv store (stores/dotenv/store.go): lines split on "\n" only, empty
 * lines skipped, "#" starts a comment line, otherwise the key is everything
 * before the first "=" (spaces kept) and the value the rest, with a literal
 * "\n" turned into a newline. Every value is a string.
 */
export function parseDotenv(text: string): SopsMap {
  const budget = new TreeBudget();
  const items: Array<SopsMapEntry | SopsComment> = [];
  for (const [index, line] of lines(text)) {
    if (line === "") continue;
    budget.node(1);
    if (line.startsWith("#")) {
      items.push({ kind: "comment", text: line.slice(1) });
      continue;
    }
    const equals = line.indexOf("=");
    if (equals < 0) throw new AgebootError("MALFORMED", `not a dotenv file: line ${index + 1} has no "="`);
    items.push({ kind: "entry", key: line.slice(0, equals), value: str(line.slice(equals + 1).replaceAll("\\n", "\n")) });
  }
  return { kind: "map", items };
}

/**
 * The INI store (stores/ini/store.go over gopkg.in/ini.v1 with non-unique
 * sections): every section is a top-level map, the implicit DEFAULT section
 * first; a section's comment becomes its first entry and a key's comment
 * (the comment lines before it) follows the key; values are strings, read as
 * ini.v1 reads them: `"""…"""` (may span lines), `` `…` ``, `"…"`, or plain
 * with an inline comment (from ";" or "#") cut off and spaces trimmed.
 */
export function parseIni(text: string): SopsMap {
  const budget = new TreeBudget();
  type Key = { key: string; value: string; comment: string };
  type Section = { name: string; comment: string; keys: Key[] };
  const sections: Section[] = [{ name: "DEFAULT", comment: "", keys: [] }];
  // Keys by section number and name, for ini.v1's "a later key replaces an earlier one's value" in constant time (a search of the section's keys made 1.5 M keys take 28 s).
  const byName = new Map<string, Key>();
  let pendingComment: string[] = [];
  const reader = lines(text, true);
  for (let next = reader.next(); !next.done; next = reader.next()) {
    let [index, line] = next.value;
    line = line.trim();
    if (line === "") continue;
    budget.node(2);
    if (line.startsWith(";") || line.startsWith("#")) {
      pendingComment.push(line);
      continue;
    }
    if (line.startsWith("[")) {
      const close = line.indexOf("]");
      if (close < 0) throw new AgebootError("MALFORMED", `not an INI file: line ${index + 1} opens a section without "]"`);
      sections.push({ name: line.slice(1, close).trim(), comment: pendingComment.join("\n"), keys: [] });
      pendingComment = [];
      continue;
    }
    const delimiter = line.search(/[=:]/);
    if (delimiter < 0) throw new AgebootError("MALFORMED", `not an INI file: line ${index + 1} has no "=" (boolean keys are not supported)`);
    const key = line
      .slice(0, delimiter)
      .trim()
      .replace(/^`(.*)`$/, "$1")
      .replace(/^"""(.*)"""$/, "$1");
    let raw = line.slice(delimiter + 1).trim();
    let value: string;
    if (raw.startsWith('"""')) {
      raw = raw.slice(3);
      const parts: string[] = [];
      let close = raw.indexOf('"""');
      while (close < 0) {
        parts.push(raw);
        const continued = reader.next();
        if (continued.done) throw new AgebootError("MALFORMED", 'not an INI file: a """ value is not closed');
        budget.node(2);
        [index, raw] = continued.value;
        close = raw.indexOf('"""');
      }
      parts.push(raw.slice(0, close));
      value = parts.join("\n");
    } else if (raw.startsWith("`") && raw.indexOf("`", 1) > 0) value = raw.slice(1, raw.indexOf("`", 1));
    else if (raw.startsWith('"') && raw.indexOf('"', 1) > 0) value = raw.slice(1, raw.lastIndexOf('"'));
    else {
      const comment = raw.search(/[#;]/);
      value = (comment < 0 ? raw : raw.slice(0, comment)).trim();
    }
    const section = sections[sections.length - 1]!;
    const name = `${sections.length - 1}\0${key}`;
    const existing = byName.get(name);
    if (existing) existing.value = value;
    else {
      const entry = { key, value, comment: pendingComment.join("\n") };
      section.keys.push(entry);
      byName.set(name, entry);
    }
    pendingComment = [];
  }
  const stripCommentChar = (comment: string) => comment.replace(comment.startsWith(";") ? /^[; ]+/ : /^[# ]+/, "");
  return {
    kind: "map",
    items: sections.map((section): SopsMapEntry => {
      const items: Array<SopsMapEntry | SopsComment> = [];
      if (section.comment !== "") items.push({ kind: "comment", text: stripCommentChar(section.comment) });
      for (const { key, value, comment } of section.keys) {
        items.push({ kind: "entry", key, value: str(value) });
        if (comment !== "") items.push({ kind: "comment", text: stripCommentChar(comment) });
      }
      return { kind: "entry", key: section.name, value: { kind: "map", items } };
    }),
  };
}

/**
 * The lines of `text` with their 0-based index, split on "\n" (and a "\r"
 * before it cut off when `crlf`), one at a time: splitting the whole text
 * first holds millions of strings for a crafted file before the node budget
 * can stop it.
 */
function* lines(text: string, crlf = false): Generator<[number, string]> {
  let start = 0;
  for (let index = 0; start <= text.length; index++) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, crlf && text[end - 1] === "\r" ? end - 1 : end);
    yield [index, line];
    start = end + 1;
  }
}
