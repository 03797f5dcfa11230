import { AgebootError } from "../errors.js";
import { SOPS_LIMITS } from "./limits.js";
import { parseGoBool, parseGoInt } from "./scalars.js";
import type { SopsValue } from "./tree.js";

/** One `age` entry: the data key wrapped for one recipient, as an armored age file. */
export interface AgeEntry {
  readonly recipient: string;
  readonly enc: string;
}

/** One key group: its age entries, and how many keys of kinds ageboot cannot use (PGP, cloud KMS, Vault). */
export interface KeyGroup {
  readonly age: readonly AgeEntry[];
  readonly otherKinds: readonly string[];
}

/** Which values are encrypted (sops.go shouldBeEncrypted); exactly one rule, the default being `unencrypted_suffix: _unencrypted`. */
export type SelectionRule = {
  readonly kind: "unencrypted_suffix" | "encrypted_suffix" | "unencrypted_regex" | "encrypted_regex" | "unencrypted_comment_regex" | "encrypted_comment_regex";
  readonly value: string;
};

export interface SopsMetadata {
  readonly keyGroups: readonly KeyGroup[];
  readonly shamirThreshold: number;
  readonly lastModified: string;
  /** The encrypted MAC, or "" when the file has none (an error: the MAC is always checked). */
  readonly mac: string;
  readonly macOnlyEncrypted: boolean;
  readonly rule: SelectionRule;
}

const OTHER_KINDS = ["kms", "gcp_kms", "azure_kv", "hc_vault", "hckms", "pgp"] as const;
const RULES = ["unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex"] as const;

/** Plain data from the metadata subtree: maps as objects, lists as arrays, scalars as their text (sops decodes metadata weakly typed). */
type Plain = string | null | Plain[] | { [key: string]: Plain };

export function toPlain(value: SopsValue): Plain {
  switch (value.kind) {
    case "scalar":
      return value.type === "bool" ? value.text.toLowerCase() : value.text;
    case "null":
      return null;
    case "list":
      return value.items.filter((item) => item.kind !== "comment").map((item) => toPlain(item as SopsValue));
    case "map": {
      const object: { [key: string]: Plain } = Object.create(null);
      for (const item of value.items) if (item.kind === "entry") object[item.key] = toPlain(item.value);
      return object;
    }
  }
}

/**
 * Rebuild the metadata of the dotenv and INI stores, which flatten it into
 * keys such as `age__list_0__map_enc` (stores/flatten.go). Map keys may come
 * in any order; list positions are numbers.
 */
export function unflatten(flat: ReadonlyArray<readonly [string, string]>): Plain {
  const root: { [key: string]: Plain } = Object.create(null);
  // List slots made, holes included: `__list_1000` makes a list of 1,001, and 49,000 such keys in a 1.2 MB file took 186 MiB.
  let slots = 0;
  for (const [path, value] of flat) {
    // Count the levels before splitting: split() of one 16 MB key of "__map_" repeated built 2.8 M strings (252 MiB).
    if (nestingBeyond(path, SOPS_LIMITS.depth)) throw new AgebootError("MALFORMED", `sops metadata key "${path.slice(0, 80)}" is nested deeper than ${SOPS_LIMITS.depth} levels`);
    const tokens = path.split(/(?=__map_|__list_)/);
    let node: Plain = root;
    for (const [index, token] of tokens.entries()) {
      const last = index === tokens.length - 1;
      const name = token.startsWith("__map_") ? token.slice(6) : token.startsWith("__list_") ? token.slice(7) : token;
      const isList = token.startsWith("__list_");
      if (isList && !/^\d{1,4}$/.test(name)) throw new AgebootError("MALFORMED", `sops metadata key "${path.slice(0, 80)}" has a bad list position`);
      if (isList && Array.isArray(node) && Number(name) >= node.length) {
        slots += Number(name) + 1 - node.length;
        if (slots > SOPS_LIMITS.nodes) throw new AgebootError("MALFORMED", `the sops metadata's list positions add up to more than ${SOPS_LIMITS.nodes} entries`);
      }
      const container = node as { [key: string]: Plain };
      const nextToken = tokens[index + 1];
      if (last) container[name] = value;
      else {
        const existing = container[name];
        if (existing === undefined || typeof existing === "string" || existing === null) container[name] = nextToken?.startsWith("__list_") ? [] : Object.create(null);
        node = container[name]!;
      }
    }
  }
  return root;
}

/** Whether a flattened key has more than `levels` tokens (split before each `__map_` and `__list_`), looking at no more than `levels` separators. */
function nestingBeyond(path: string, levels: number): boolean {
  let tokens = 1;
  // The next place each separator starts, searched again only once passed, so the key is scanned about once.
  let map = path.indexOf("__map_", 1);
  let list = path.indexOf("__list_", 1);
  for (;;) {
    const next = map === -1 ? list : list === -1 ? map : Math.min(map, list);
    if (next === -1) return false;
    if (++tokens > levels) return true;
    if (map === next) map = path.indexOf("__map_", next + 1);
    if (list === next) list = path.indexOf("__list_", next + 1);
  }
}

/**
 * Read the `sops` metadata (stores/stores.go metadata.ToInternal): key groups
 * (the flat lists form one group; `key_groups` several), the selection rule,
 * lastmodified and the MAC. Fields ageboot does not use are ignored, as sops does.
 */
export function readMetadata(plain: Plain): SopsMetadata {
  if (plain === null || typeof plain !== "object" || Array.isArray(plain)) throw new AgebootError("MALFORMED", 'the "sops" metadata is not a mapping');
  const field = (name: string) => plain[name];
  const text = (name: string): string => {
    const value = field(name);
    return typeof value === "string" ? value : "";
  };

  const groups: KeyGroup[] = [];
  const rawGroups = field("key_groups");
  if (Array.isArray(rawGroups) && rawGroups.length > 0) {
    if (rawGroups.length > SOPS_LIMITS.keyGroups) throw new AgebootError("MALFORMED", `more than ${SOPS_LIMITS.keyGroups} key groups`);
    for (const group of rawGroups) groups.push(keyGroup(group));
  } else {
    const flat = keyGroup(plain);
    if (flat.age.length > 0 || flat.otherKinds.length > 0) groups.push(flat);
  }
  if (groups.length === 0) throw new AgebootError("MALFORMED", "the sops metadata lists no keys at all (no age, PGP or KMS entries)");
  if (groups.reduce((sum, group) => sum + group.age.length, 0) > SOPS_LIMITS.ageEntries) throw new AgebootError("MALFORMED", `more than ${SOPS_LIMITS.ageEntries} age entries`);

  const rules = RULES.filter((name) => text(name) !== "");
  if (rules.length > 1) throw new AgebootError("MALFORMED", `the sops metadata sets more than one of ${RULES.join(", ")} (${rules.join(", ")})`);
  const rule: SelectionRule = rules[0] === undefined ? { kind: "unencrypted_suffix", value: "_unencrypted" } : { kind: rules[0], value: text(rules[0]) };

  const rawThreshold = field("shamir_threshold");
  let shamirThreshold = 0;
  if (typeof rawThreshold === "string" && rawThreshold !== "") {
    const parsed = parseGoInt(rawThreshold);
    if (parsed === null || Number(parsed) < 0 || Number(parsed) > 255) throw new AgebootError("MALFORMED", `shamir_threshold is not a small whole number`);
    shamirThreshold = Number(parsed);
  }
  const rawMacOnly = text("mac_only_encrypted");
  return {
    keyGroups: groups,
    shamirThreshold,
    lastModified: text("lastmodified"),
    mac: text("mac"),
    macOnlyEncrypted: rawMacOnly !== "" && parseGoBool(rawMacOnly) === "True",
    rule,
  };
}

function keyGroup(raw: Plain): KeyGroup {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new AgebootError("MALFORMED", "a sops key group is not a mapping");
  const list = (name: string): Plain[] => {
    const value = raw[name];
    return Array.isArray(value) ? value : [];
  };
  const age = list("age").map((entry): AgeEntry => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw new AgebootError("MALFORMED", "a sops age entry is not a mapping");
    const recipient = typeof entry["recipient"] === "string" ? entry["recipient"] : "";
    const enc = typeof entry["enc"] === "string" ? entry["enc"] : "";
    if (enc.length > SOPS_LIMITS.ageEntryChars)
      throw new AgebootError("MALFORMED", `a sops age entry is larger than ${SOPS_LIMITS.ageEntryChars} characters (sops writes a few hundred)`);
    return { recipient, enc };
  });
  const otherKinds = OTHER_KINDS.flatMap((kind) => list(kind).map(() => kind));
  return { age, otherKinds };
}
