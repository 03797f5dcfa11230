import { type Alias, type Document, isAlias, isMap, isScalar, isSeq, type Node, parseAllDocuments, type Scalar } from "yaml";
import { AgebootError } from "../errors.js";
import { TreeBudget } from "./limits.js";
import { canonicalTime, goFloatText } from "./scalars.js";
import { NULL, scalar, type SopsComment, type SopsMap, type SopsMapEntry, type SopsValue } from "./tree.js";

/**
 * The YAML store (stores/yaml/store.go, yaml.v3): every document is a branch
 * (an empty one is an empty map), a top level that is not a map is an error,
 * duplicate keys are an error, aliases are expanded by value (bounded by the
 * node budget, so an alias bomb fails), comments become comment entries
 * where sops' store puts them (appendYamlNodeToTreeBranch, nodeToTreeValue):
 * a collection's own comments inside it, first and last; a key's comments
 * and a scalar value's head and line comments before its entry, the line
 * comment marked inline.
 * Plain scalars are resolved as yaml.v3 resolves them (below), so that clear
 * values enter the MAC with the bytes sops hashes.
 */
export function parseYamlDocuments(text: string): SopsMap[] {
  const documents = parseAllDocuments(text, { schema: "failsafe", uniqueKeys: true, merge: false, prettyErrors: false, strict: true });
  if (!Array.isArray(documents)) return [{ kind: "map", items: [] }];
  const budget = new TreeBudget();
  return documents.map((document, index) => {
    const error = document.errors[0];
    if (error !== undefined) throw new AgebootError("MALFORMED", `not valid YAML (document ${index + 1}): ${error.message.split("\n")[0]}`);
    return new YamlReader(document, budget).top(index);
  });
}

class YamlReader {
  constructor(
    private readonly document: Document,
    private readonly budget: TreeBudget,
  ) {}

  top(index: number): SopsMap {
    const contents = this.document.contents;
    const head = comments(this.document.commentBefore);
    if (contents === null || (isScalar(contents) && contents.value === null)) return { kind: "map", items: head };
    const value = this.value(contents as Node, 0);
    if (value.kind === "null") return { kind: "map", items: head };
    if (value.kind !== "map") throw new AgebootError("MALFORMED", `YAML document ${index + 1} is not a mapping at the top level, which sops requires`);
    return { kind: "map", items: [...head, ...value.items, ...comments(this.document.comment)] };
  }

  /** `commentsHandled`: a list item's comments, which the list around it holds (as sops' nodeToTreeValue does). */
  private value(node: Node, depth: number, commentsHandled = false): SopsValue {
    this.budget.node(depth);
    if (isAlias(node)) return this.value((node as Alias).resolve(this.document) as Node, depth + 1);
    // The yaml package puts a comment above a block collection's first item on
    // the collection (commentBefore) and one below its last item on it too
    // (comment); yaml.v3 gives sops the same as the collection's head and foot.
    if (isMap(node)) {
      const items: Array<SopsMapEntry | SopsComment> = commentsHandled ? [] : comments(node.commentBefore);
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        items.push(...comments(keyNode?.commentBefore), ...comments(keyNode?.comment));
        const key = keyNode === null ? null : this.value(keyNode, depth + 1);
        if (key === null || key.kind !== "scalar" || key.type !== "str")
          throw new AgebootError("MALFORMED", "the YAML has a key that is not a string; sops supports only string keys");
        const valueNode = pair.value as Node | null;
        if (valueNode !== null && !isMap(valueNode) && !isSeq(valueNode)) items.push(...comments(valueNode.commentBefore), ...comments(valueNode.comment, true));
        items.push({ kind: "entry", key: key.text, value: valueNode === null ? NULL : this.value(valueNode, depth + 1) });
      }
      if (!commentsHandled) items.push(...comments(node.comment));
      return { kind: "map", items };
    }
    if (isSeq(node)) {
      const items: Array<SopsValue | SopsComment> = commentsHandled ? [] : comments(node.commentBefore);
      for (const item of node.items) {
        const itemNode = item as Node | null;
        if (itemNode === null) {
          items.push(NULL);
          continue;
        }
        const collection = isMap(itemNode) || isSeq(itemNode);
        items.push(...comments(itemNode.commentBefore));
        if (!collection) items.push(...comments(itemNode.comment, true));
        items.push(this.value(itemNode, depth + 1, true));
        if (collection) items.push(...comments(itemNode.comment));
      }
      if (!commentsHandled) items.push(...comments(node.comment));
      return { kind: "list", items };
    }
    return resolveScalar(node as Scalar);
  }
}

/** A comment run as sops' comment entries: one per line, without the "#" (the yaml package strips it already). */
function comments(text: string | null | undefined, inline = false): SopsComment[] {
  if (!text) return [];
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (inline ? { kind: "comment", text: line, inline } : { kind: "comment", text: line }));
}

const NULLS = new Set(["", "~", "null", "Null", "NULL"]);
const TRUES = new Set(["true", "True", "TRUE"]);
const FALSES = new Set(["false", "False", "FALSE"]);
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?[ \t]*(Z|[+-]\d{1,2}(?::\d{2})?)?)?$/;

/**
 * yaml.v3's resolution of an untagged plain scalar (resolve.go): null, bool
 * (YAML 1.2 words only: "yes" and "on" stay strings), int (with 0x/0o/0b and
 * Go's leading-zero octal, underscores removed), float (with .inf/.nan),
 * timestamp (-> time). Quoted and block scalars are strings.
 */
function resolveScalar(node: Scalar): SopsValue {
  const text = String(node.value ?? "");
  const tag = node.tag;
  if (tag === "tag:yaml.org,2002:str" || tag === "!!str" || node.type !== "PLAIN") return scalar("str", text);
  if (tag === "tag:yaml.org,2002:binary") return scalar("str", Buffer.from(text.replace(/\s+/g, ""), "base64").toString("latin1"));
  if (NULLS.has(text)) return NULL;
  if (TRUES.has(text)) return scalar("bool", "True");
  if (FALSES.has(text)) return scalar("bool", "False");
  const lower = text.toLowerCase();
  if ([".inf", "+.inf"].includes(lower)) return scalar("float", "+Inf");
  if (lower === "-.inf") return scalar("float", "-Inf");
  if (lower === ".nan") return scalar("float", "NaN");
  const time = timestamp(text);
  if (time !== null) return scalar("time", time);
  const plain = text.replaceAll("_", "");
  const integer = goInteger(plain);
  if (integer !== null) {
    if (integer >= -(2n ** 63n) && integer <= 2n ** 63n - 1n) return scalar("int", integer.toString());
    throw new AgebootError("MALFORMED", "the YAML has an integer outside the 64-bit range, which sops cannot handle");
  }
  if (YAML_FLOAT.test(plain)) return scalar("float", goFloatText(Number(plain)));
  return scalar("str", text);
}

/** strconv.ParseInt(s, 0, 64)'s syntax: sign, then 0x/0o/0b, a leading-0 octal, or decimal. */
function goInteger(text: string): bigint | null {
  const match = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (match === null) return null;
  const [, sign, digits = ""] = match;
  let value: bigint;
  if (/^0[oO]/.test(digits)) value = BigInt(`0o${digits.slice(2)}`);
  else if (/^0[0-7]+$/.test(digits)) value = BigInt(`0o${digits.slice(1)}`);
  else value = BigInt(digits);
  return sign === "-" ? -value : value;
}

/** yaml.v3's timestamp forms, as Go's time.Time.MarshalText writes them (UTC when no zone is given). */
function timestamp(text: string): string | null {
  const match = TIMESTAMP.exec(text);
  if (match === null) return null;
  const [, year, month, day, hour = "0", minute = "00", second = "00", fraction = "", zone = "Z"] = match;
  const pad = (value: string) => value.padStart(2, "0");
  const zoneText = zone === "Z" ? "Z" : /^[+-]\d{1,2}$/.test(zone) ? `${zone[0]}${pad(zone.slice(1))}:00` : `${zone[0]}${pad(zone.slice(1).split(":")[0]!)}:${zone.split(":")[1]}`;
  return canonicalTime(`${year}-${pad(month!)}-${pad(day!)}T${pad(hour)}:${minute}:${second}${fraction}${zoneText}`);
}
