import { type Alias, type Document, isAlias, isCollection, isMap, isScalar, isSeq, type Node, type Scalar, visit } from "yaml";
import { AgebootError } from "../errors.js";
import { TreeBudget } from "./limits.js";
import { canonicalTime, goFloatText } from "./scalars.js";
import { NULL, scalar, type SopsComment, type SopsMap, type SopsMapEntry, type SopsValue } from "./tree.js";
import { composeYamlBounded } from "./yaml-bounded.js";

/**
 * The YAML store (stores/yaml/store.go, yaml.v3): every document is a branch
 * (an empty one is an empty map), a top level that is not a map is an error,
 * duplicate keys are an error (in every mapping; sops refuses only top-level
 * ones, so this fails closed), aliases are expanded by value (each anchor read
 * once and shared; its size charged again per alias against the node and
 * character budgets, so an alias bomb fails), comments become comment entries
 * where sops' store puts them (appendYamlNodeToTreeBranch, nodeToTreeValue):
 * a collection's own comments inside it, first and last; a key's comments
 * and a scalar value's head and line comments before its entry, the line
 * comment marked inline.
 * Plain scalars are resolved as yaml.v3 resolves them (below), so that clear
 * values enter the MAC with the bytes sops hashes.
 * The text is read within SOPS_LIMITS before any document is built
 * (src/sops/yaml-bounded.ts); the tree is then built within the node budget,
 * which counts comments and what aliases expand to.
 */
export function parseYamlDocuments(text: string): SopsMap[] {
  const documents = composeYamlBounded(text);
  if (documents.length === 0) return [{ kind: "map", items: [] }];
  const budget = new TreeBudget();
  return documents.map((document, index) => {
    const error = document.errors[0];
    if (error !== undefined) throw new AgebootError("MALFORMED", `not valid YAML (document ${index + 1}): ${error.message.split("\n")[0]}`);
    return new YamlReader(document, budget, index).top();
  });
}

type Item<T> = T | SopsComment;

/** What reading an anchored node produced and cost, charged again for each alias to it. */
interface Expansion {
  value: SopsValue;
  nodes: number;
  chars: number;
  /** Levels below the node itself. */
  height: number;
}

class YamlReader {
  /**
   * Anchored nodes already read, by node: an alias shares the value its
   * anchor produced and is charged its recorded size, so each YAML node is
   * resolved (and, downstream, each distinct value parsed) once. Reading an
   * alias again in full made one 15 MiB scalar expanded 49,000 times through
   * nested aliases cost over 120 s.
   */
  private readonly expansions = new Map<Node, Expansion>();
  /** The deepest level reached so far, to record an expansion's height. */
  private deepest = 0;
  /** Each alias's node: the last node before it with its anchor, found in one walk (the yaml package's Alias.resolve walks the whole document for each alias). */
  private readonly aliasTargets = new Map<Alias, Node>();

  constructor(
    private readonly document: Document,
    private readonly budget: TreeBudget,
    private readonly index: number,
  ) {
    const anchors = new Map<string, Node>();
    visit(document, {
      Node: (_key, node) => {
        if (isAlias(node)) {
          const target = anchors.get(node.source);
          if (target !== undefined) this.aliasTargets.set(node, target);
        } else if ((isScalar(node) || isCollection(node)) && node.anchor) anchors.set(node.anchor, node);
      },
    });
  }

  top(): SopsMap {
    const contents = this.document.contents;
    const head = this.comments(this.document.commentBefore);
    if (contents === null || (isScalar(contents) && contents.value === null)) return { kind: "map", items: head };
    const value = this.value(contents as Node, 0);
    if (value.kind === "null") return { kind: "map", items: head };
    if (value.kind !== "map") throw new AgebootError("MALFORMED", `YAML document ${this.index + 1} is not a mapping at the top level, which sops requires`);
    const items: Array<Item<SopsMapEntry>> = head;
    append(items, value.items);
    append(items, this.comments(this.document.comment));
    return { kind: "map", items };
  }

  /**
   * `commentsHandled`: a list item's comments, which the list around it holds (as sops' nodeToTreeValue does).
   * An anchored node is read once and its value shared (see `expansions`);
   * a collection read as a list item is not shared, as its comments differ.
   */
  private value(node: Node, depth: number, commentsHandled = false): SopsValue {
    const anchored = (isScalar(node) || (isCollection(node) && !commentsHandled)) && Boolean(node.anchor);
    if (!anchored) return this.read(node, depth, commentsHandled);
    const known = this.expansions.get(node);
    if (known !== undefined) {
      this.budget.node(depth + known.height);
      this.budget.charge(known.nodes - 1, known.chars);
      this.deepest = Math.max(this.deepest, depth + known.height);
      return known.value;
    }
    const [nodesBefore, charsBefore, deepestBefore] = [this.budget.nodes, this.budget.chars, this.deepest];
    this.deepest = depth;
    const value = this.read(node, depth, commentsHandled);
    this.expansions.set(node, { value, nodes: this.budget.nodes - nodesBefore, chars: this.budget.chars - charsBefore, height: this.deepest - depth });
    this.deepest = Math.max(this.deepest, deepestBefore);
    return value;
  }

  private read(node: Node, depth: number, commentsHandled: boolean): SopsValue {
    this.budget.node(depth);
    this.deepest = Math.max(this.deepest, depth);
    if (isAlias(node)) {
      const target = this.aliasTargets.get(node);
      if (target === undefined) throw new AgebootError("MALFORMED", `not valid YAML (document ${this.index + 1}): the alias *${node.source.slice(0, 80)} has no anchor before it`);
      return this.value(target, depth + 1);
    }
    // The yaml package puts a comment above a block collection's first item on
    // the collection (commentBefore) and one below its last item on it too
    // (comment); yaml.v3 gives sops the same as the collection's head and foot.
    if (isMap(node)) {
      const items: Array<Item<SopsMapEntry>> = commentsHandled ? [] : this.comments(node.commentBefore);
      const keys = new Set<string>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        append(items, this.comments(keyNode?.commentBefore));
        append(items, this.comments(keyNode?.comment));
        const key = keyNode === null ? null : this.value(keyNode, depth + 1);
        if (key === null || key.kind !== "scalar" || key.type !== "str")
          throw new AgebootError("MALFORMED", "the YAML has a key that is not a string; sops supports only string keys");
        if (keys.has(key.text)) throw new AgebootError("MALFORMED", `not valid YAML (document ${this.index + 1}): the key "${key.text.slice(0, 80)}" appears twice in one mapping`);
        keys.add(key.text);
        const valueNode = pair.value as Node | null;
        if (valueNode !== null && !isMap(valueNode) && !isSeq(valueNode)) {
          append(items, this.comments(valueNode.commentBefore));
          append(items, this.comments(valueNode.comment, true));
        }
        items.push({ kind: "entry", key: key.text, value: valueNode === null ? NULL : this.value(valueNode, depth + 1) });
      }
      if (!commentsHandled) append(items, this.comments(node.comment));
      return { kind: "map", items };
    }
    if (isSeq(node)) {
      const items: Array<Item<SopsValue>> = commentsHandled ? [] : this.comments(node.commentBefore);
      for (const item of node.items) {
        const itemNode = item as Node | null;
        if (itemNode === null) {
          this.budget.node(depth + 1);
          items.push(NULL);
          continue;
        }
        const collection = isMap(itemNode) || isSeq(itemNode);
        append(items, this.comments(itemNode.commentBefore));
        if (!collection) append(items, this.comments(itemNode.comment, true));
        items.push(this.value(itemNode, depth + 1, true));
        if (collection) append(items, this.comments(itemNode.comment));
      }
      if (!commentsHandled) append(items, this.comments(node.comment));
      return { kind: "list", items };
    }
    const text = String((node as Scalar).value ?? "");
    this.budget.charge(0, text.length);
    return resolveScalar(node as Scalar);
  }

  /** A comment run as sops' comment entries: one per line, without the "#" (the yaml package strips it already), each one a node of the budget. */
  private comments(text: string | null | undefined, inline = false): SopsComment[] {
    if (!text) return [];
    const entries: SopsComment[] = [];
    for (const line of text.split("\n")) {
      if (line === "") continue;
      this.budget.node(0, line.length);
      entries.push(inline ? { kind: "comment", text: line, inline } : { kind: "comment", text: line });
    }
    return entries;
  }
}

/** push(...more) passes every element as an argument, which overflows the stack for long runs. */
function append<T>(items: T[], more: readonly T[]): void {
  for (const item of more) items.push(item);
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
  // Past 64 significant digits no base fits 64 bits; BigInt of 16 M decimal digits took 5 s.
  if (digits.replace(/^0[xXoObB]?0*/, "").length > 64) return 2n ** 64n;
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
