import { AgebootError } from "../errors.js";
import { goFloatG } from "./scalars.js";
import type { SopsFormat } from "./document.js";
import type { SopsComment, SopsMap, SopsScalar, SopsValue } from "./tree.js";

/**
 * The whole decrypted file, as `sops --decrypt` prints it (each store's
 * EmitPlainFile): what sops-nix writes for `key = ""` and for the dotenv,
 * INI and binary formats. Strings are written from their decrypted bytes.
 */
export function emitPlainFile(format: SopsFormat, branches: readonly SopsMap[]): Buffer {
  switch (format) {
    case "binary":
      return emitBinary(branches[0]!);
    case "dotenv":
      return emitDotenv(branches[0]!);
    case "ini":
      return emitIni(branches[0]!);
    case "json":
      return Buffer.from(`${jsonValue(branches[0]!, "")}\n`, "utf8");
    case "yaml":
      return Buffer.from(branches.map((branch) => yamlDocument(branch)).join("---\n"), "utf8");
  }
}

function stringBytes(value: SopsScalar): Buffer {
  return value.bytes !== undefined && value.type === "str" ? value.bytes : Buffer.from(value.text, "utf8");
}

function emitBinary(branch: SopsMap): Buffer {
  const data = branch.items.find((item) => item.kind === "entry" && item.key === "data");
  if (data?.kind !== "entry" || data.value.kind !== "scalar" || data.value.type !== "str") throw new AgebootError("MALFORMED", 'the binary file\'s "data" is not a string');
  return Buffer.from(stringBytes(data.value));
}

/** stores.ValToString: how dotenv and INI write a value that is not a string. */
function valueText(value: SopsValue, where: string): string {
  if (value.kind === "null") return "<nil>";
  if (value.kind !== "scalar") throw new AgebootError("MALFORMED", `cannot write a nested value (at ${where}) in this format`);
  if (value.type === "str") return stringBytes(value).toString("utf8");
  if (value.type === "bool") return value.text.toLowerCase();
  if (value.type === "float") {
    const g = goFloatG(Number(value.text)).toUpperCase();
    return g.includes(".") || g.includes("E") ? g : `${g}.0`;
  }
  if (value.type === "time") return value.text.replace(/\.\d+/, "");
  return value.text;
}

/** stores/dotenv/store.go EmitPlainFile: `#comment` and `key=value` lines, newlines in values written as "\n". */
function emitDotenv(branch: SopsMap): Buffer {
  const lines = branch.items.map((item) => (item.kind === "comment" ? `#${item.text}\n` : `${item.key}=${valueText(item.value, item.key).replaceAll("\n", "\\n")}\n`));
  return Buffer.from(lines.join(""), "utf8");
}

/**
 * stores/ini/store.go encodeTree written out by ini.v1 (PrettyFormat): per
 * section its comment as "; " lines and `[name]` (the DEFAULT section without
 * a header, and not at all when empty), each key's comment before it, keys
 * padded so the "=" align, values quoted as ini.v1 quotes them, and a blank
 * line between sections.
 */
function emitIni(branch: SopsMap): Buffer {
  const out: string[] = [];
  const sections = branch.items.filter((item) => item.kind === "entry");
  for (const [index, section] of sections.entries()) {
    if (section.value.kind !== "map") throw new AgebootError("MALFORMED", `INI section "${section.key}" is not a mapping`);
    const items = section.value.items;
    let first = 0;
    let sectionComment = "";
    if (items[0]?.kind === "comment") {
      sectionComment = items[0].text;
      first = 1;
    }
    const keys: Array<{ name: string; value: string; comment: string }> = [];
    for (const item of items.slice(first)) {
      if (item.kind === "comment") {
        const last = keys[keys.length - 1];
        if (last) last.comment = item.text;
      } else keys.push({ name: item.key, value: valueText(item.value, `${section.key}/${item.key}`), comment: "" });
    }
    if (sectionComment !== "") out.push(...iniComment(sectionComment, false));
    if (index === 0 && section.key.toUpperCase() === "DEFAULT") {
      if (keys.length === 0) continue;
    } else out.push(`[${section.key}]\n`);
    const quotedName = (name: string) => (name.includes('"') || name.includes("=") || name.includes(":") ? `\`${name}\`` : name.includes("`") ? `"""${name}"""` : name);
    const align = Math.max(0, ...keys.map(({ name }) => Buffer.byteLength(quotedName(name))));
    for (const { name, value, comment } of keys) {
      if (comment !== "") out.push(...iniComment(comment, true));
      const written = quotedName(name);
      let quoted = value;
      if (/[\n`]/.test(value)) quoted = `"""${value}"""`;
      else if (/[#;]/.test(value)) quoted = `\`${value}\``;
      else if (value.trim() !== value) quoted = `"${value}"`;
      out.push(`${written}${" ".repeat(align - Buffer.byteLength(written))} = ${quoted}\n`);
    }
    if (index < sections.length - 1) out.push("\n");
  }
  return Buffer.from(out.join(""), "utf8");
}

function iniComment(text: string, trim: boolean): string[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (line[0] !== "#" && line[0] !== ";" ? `; ${trim ? line.trim() : line}\n` : `${line[0]} ${line.slice(1).trim()}\n`));
}

/** Go's encoding/json: HTML characters and U+2028/U+2029 escaped, \b and \f short (Go 1.22+). */
function jsonString(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** stores/json/store.go encodeTree then json.Indent with a tab: `"key": value`, `{}` and `[]` when empty. */
function jsonValue(value: SopsValue, indent: string): string {
  const inner = `${indent}\t`;
  switch (value.kind) {
    case "null":
      return "null";
    case "scalar":
      return jsonScalar(value);
    case "list": {
      const items = value.items.filter((item): item is SopsValue => item.kind !== "comment");
      if (items.length === 0) return "[]";
      return `[\n${items.map((item) => `${inner}${jsonValue(item, inner)}`).join(",\n")}\n${indent}]`;
    }
    case "map": {
      const entries = value.items.filter((item) => item.kind === "entry");
      if (entries.length === 0) return "{}";
      return `{\n${entries.map((entry) => `${inner}${jsonString(entry.key)}: ${jsonValue(entry.value, inner)}`).join(",\n")}\n${indent}}`;
    }
  }
}

function jsonScalar(value: SopsScalar): string {
  switch (value.type) {
    case "str":
    case "bytes":
      return jsonString(stringBytes(value).toString("utf8"));
    case "int":
      return value.text;
    case "bool":
      return value.text === "True" ? "true" : "false";
    case "time":
      return jsonString(value.text);
    case "float": {
      const number = Number(value.text);
      if (!Number.isFinite(number)) throw new AgebootError("MALFORMED", "a float value is infinite or NaN, which JSON cannot hold");
      return String(number);
    }
  }
}

// YAML, as yaml.v3 writes it with sops' 4-space indent.

const OLD_BOOLS = new Set(["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]);
const RESOLVES_AS_OTHER =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?0[xXoObB][0-9a-fA-F_]+|\d{4}-\d{1,2}-\d{1,2}(?:[Tt ].*)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$/;

function yamlDocument(branch: SopsMap): string {
  const body = yamlMapLines(branch, "");
  return body === "" ? "{}\n" : body;
}

/**
 * Head comments as `#text` lines before what follows them; inline comments
 * (sops keeps them before their entry) on the line of the scalar that
 * follows, as yaml.v3 writes a line comment (sops' appendTreeBranch); any
 * left at the end as lines.
 */
function yamlMapLines(map: SopsMap, indent: string): string {
  let out = "";
  let inline: string[] = [];
  for (const item of map.items) {
    if (item.kind === "comment") {
      if (item.inline) inline.push(item.text);
      else out += `${indent}#${item.text}\n`;
      continue;
    }
    out += withLineComment(`${indent}${yamlString(item.key, indent)}:${yamlNested(item.value, indent)}`, item.value, inline, indent);
    inline = [];
  }
  return out + inline.map((text) => `${indent}#${text}\n`).join("");
}

/** A scalar's line with its line comments appended (` #text`); for a collection they go on lines of their own before it. */
function withLineComment(lines: string, value: SopsValue, inline: readonly string[], indent: string): string {
  if (inline.length === 0) return lines;
  if (value.kind === "scalar" || value.kind === "null") {
    const end = lines.indexOf("\n");
    // A multi-line (block) scalar takes the comment on its header line.
    return `${lines.slice(0, end)} #${inline.join(" #")}${lines.slice(end)}`;
  }
  return inline.map((text) => `${indent}#${text}\n`).join("") + lines;
}

/**
 * The indentation yaml.v3 gives what a node holds (emitterc.go
 * yaml_emitter_increase_indent_compact): inside a sequence item 2 more,
 * skipping "- "; anything else the next multiple of sops' indent, 4. So a
 * list under a key of a map that is a list item (keys at 6) is at 8, not 10.
 */
function childIndent(indent: string, inSequenceItem: boolean): string {
  return " ".repeat(inSequenceItem ? indent.length + 2 : 4 * Math.floor((indent.length + 4) / 4));
}

/** What follows "key:" (or "-", for a list item): a scalar on the same line, or a block below. */
function yamlNested(value: SopsValue, indent: string, inSequenceItem = false): string {
  const child = childIndent(indent, inSequenceItem);
  if (value.kind === "map") {
    const lines = yamlMapLines(value, child);
    return value.items.some((item) => item.kind === "entry") ? `\n${lines}` : " {}\n";
  }
  if (value.kind === "list") {
    const items = value.items;
    if (!items.some((item) => item.kind !== "comment")) return " []\n";
    return `\n${yamlListLines(items, child)}`;
  }
  return ` ${yamlScalar(value, child)}\n`;
}

function yamlListLines(items: ReadonlyArray<SopsValue | SopsComment>, indent: string): string {
  let out = "";
  let inline: string[] = [];
  for (const item of items) {
    if (item.kind === "comment") {
      if (item.inline) inline.push(item.text);
      else out += `${indent}#${item.text}\n`;
      continue;
    }
    if (inline.length > 0 && (item.kind === "scalar" || item.kind === "null")) {
      out += withLineComment(`${indent}-${yamlNested(item, indent, true)}`, item, inline, indent);
      inline = [];
      continue;
    }
    out += inline.map((text) => `${indent}#${text}\n`).join("");
    inline = [];
    if (item.kind === "map" && item.items.some((entry) => entry.kind === "entry")) {
      const lines = yamlMapLines(item, `${indent}  `);
      out += `${indent}- ${lines.slice(indent.length + 2)}`;
    } else if (item.kind === "list" && item.items.some((entry) => entry.kind !== "comment")) {
      const lines = yamlListLines(item.items, `${indent}  `);
      out += `${indent}- ${lines.slice(indent.length + 2)}`;
    } else out += `${indent}-${yamlNested(item, indent, true)}`;
  }
  return out + inline.map((text) => `${indent}#${text}\n`).join("");
}

/** `blockIndent`: where the lines of a literal block go. */
function yamlScalar(value: SopsValue, blockIndent: string): string {
  if (value.kind === "null") return "null";
  if (value.kind !== "scalar") return "";
  switch (value.type) {
    case "str":
    case "bytes":
      return yamlString(stringBytes(value).toString("utf8"), blockIndent);
    case "bool":
      return value.text === "True" ? "true" : "false";
    case "float": {
      const g = goFloatG(Number(value.text));
      return g === "+Inf" ? ".inf" : g === "-Inf" ? "-.inf" : g === "NaN" ? ".nan" : g;
    }
    default:
      return value.text;
  }
}

/** yaml.v3's choice of style for a string: plain when it reads back as the same string, literal block when multi-line, else single or double quotes. */
function yamlString(text: string, blockIndent: string): string {
  if (text.includes("\n") && literalAllowed(text)) {
    const chomp = text.endsWith("\n\n") || text === "\n" ? "+" : text.endsWith("\n") ? "" : "-";
    // libyaml's block scalar hints: an indentation indicator (sops' indent, 4) when the text starts with a space or a line break.
    const indentation = text[0] === " " || text[0] === "\n" ? "4" : "";
    const body = text.replace(/\n+$/, "").split("\n");
    const pad = blockIndent;
    return `|${indentation}${chomp}\n${body.map((line) => (line === "" ? "" : `${pad}${line}`)).join("\n")}${chomp === "+" ? "\n".repeat(text.length - text.replace(/\n+$/, "").length - 1) : ""}`;
  }
  const resolvesAsOther = text === "" || RESOLVES_AS_OTHER.test(text) || OLD_BOOLS.has(text);
  if (resolvesAsOther) return doubleQuoted(text);
  if (plainAllowed(text)) return text;
  if (!/[\p{Cc}\u0085\u2028\u2029\uFEFF]/u.test(text) && !text.includes("\n")) return `'${text.replaceAll("'", "''")}'`;
  return doubleQuoted(text);
}

/**
 * Whether libyaml's emitter (yaml_emitter_analyze_scalar) allows a block
 * scalar: not with a trailing space, a space before a line break, or a
 * character it does not print (tabs are printed).
 */
function literalAllowed(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for (libyaml's unprintable set)
  return !text.endsWith(" ") && !text.includes(" \n") && !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFEFF\uFFFE\uFFFF]/.test(text);
}

function plainAllowed(text: string): boolean {
  if (/^[\s]|[\s]$/.test(text)) return false;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(text) && !/^[-?:][^\s,[\]{}]/.test(text)) return false;
  if (/: |:$| #|[\p{Cc}\u0085\u2028\u2029\uFEFF]/u.test(text)) return false;
  if (/^---|^\.\.\./.test(text)) return false;
  return true;
}

function doubleQuoted(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029\uFEFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
