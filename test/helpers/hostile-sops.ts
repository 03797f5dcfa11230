// Crafted sops files that attack the parser's memory and time rather than its
// cryptography: each is just under the 16 MiB file bound (SOPS_LIMITS.fileBytes),
// so the size check alone lets it through, and before the parsers counted
// while reading, each one cost seconds to a minute and gigabytes, or aborted
// node (issue 22). None has to be a valid sops file: the bounds must stop it
// before sops metadata is even looked for. Figures: docs/security.md.
import { armor } from "age-encryption";
import { stringify } from "yaml";
import type { SopsFormat } from "../../src/sops/document.js";
import { ageFileWithStanzas, type HostileStanzaType, hostileStanzas } from "./hostile-headers.js";
import { encryptTree, sealValue } from "./sops-craft.js";

/** Just under the file bound, so the size check alone does not stop it. */
const BYTES = 16 * 1024 * 1024 - 4096;

/** `unit` repeated to fill `bytes` (whole units only), between `head` and `tail`. */
function fill(unit: string, head = "", tail = "", bytes = BYTES): string {
  return head + unit.repeat(Math.floor((bytes - head.length - tail.length) / unit.length)) + tail;
}

/** Numbered units, for bombs whose items must differ (keys, anchors). */
function numbered(make: (index: number) => string, bytes = BYTES): string {
  const parts: string[] = [];
  let length = 0;
  for (let index = 0; ; index++) {
    const part = make(index);
    if (length + part.length > bytes) break;
    parts.push(part);
    length += part.length;
  }
  return parts.join("");
}

export interface HostileSopsFile {
  readonly name: string;
  readonly format: SopsFormat;
  readonly make: () => string;
}

export const hostileSopsFiles: readonly HostileSopsFile[] = [
  // YAML: the issue's measured attacks, then the other shapes the bounds cover.
  { name: "YAML nested flow lists", format: "yaml", make: () => `a: ${fill("[", "", "", BYTES / 2)}` },
  { name: "YAML flow list of 8 M items", format: "yaml", make: () => fill("1,", "a: [", "1]\n") },
  { name: "YAML block list of 4 M items", format: "yaml", make: () => fill("- 1\n", "a:\n") },
  { name: "YAML 8 M comment lines", format: "yaml", make: () => fill("#\n") },
  { name: "YAML 1 M anchors", format: "yaml", make: () => `a:\n${numbered((index) => `- &a${index} x\n`)}` },
  { name: "YAML alias bomb (billion laughs)", format: "yaml", make: () => aliasBomb() },
  { name: "YAML 1 M aliases of one anchor", format: "yaml", make: () => fill("- *a\n", "a: &a [x]\nb:\n") },
  { name: "YAML 4 M documents", format: "yaml", make: () => fill("---\n") },
  { name: "YAML a map of 1 M keys", format: "yaml", make: () => numbered((index) => `k${index}: 1\n`) },
  { name: "YAML one 16 MiB line of flow maps", format: "yaml", make: () => fill("{},", "a: [", "{}]") },
  { name: "YAML one 16 MiB line of bad flow items", format: "yaml", make: () => fill("{}", "a: [", "]") },
  { name: "YAML 16 M empty lines", format: "yaml", make: () => fill("\n") },
  { name: "YAML nested block maps", format: "yaml", make: () => numbered((index) => `${" ".repeat(index % 4000)}k:\n`) },
  { name: "YAML one block scalar of 4 M lines", format: "yaml", make: () => fill("  x\n", "a: |\n") },
  { name: "YAML one plain scalar of 4 M lines", format: "yaml", make: () => fill("x \n  ", "a: ") },
  { name: "YAML one 16 MiB double-quoted value", format: "yaml", make: () => fill("x", 'a: "', '"\n') },
  { name: "YAML 4 M double-quoted escapes", format: "yaml", make: () => fill("\\x41", 'a: "', '"\n') },
  { name: "YAML an integer of 16 M digits", format: "yaml", make: () => fill("1", "a: ", "\n") },
  // Aliases of a large scalar: each expansion used to be read (and resolved as a float) again in full.
  { name: "YAML one 15 MiB scalar expanded 40,000 times through nested aliases", format: "yaml", make: () => nestedAliases("A".repeat(15 * 1024 * 1024), 200, 200) },
  { name: "YAML a 15 MiB run of digits aliased 1,000 times", format: "yaml", make: () => nestedAliases(`${"1".repeat(15 * 1024 * 1024)}x`, 1000, 1) },
  // JSON and binary (the JSON store).
  { name: "JSON 16 M line breaks before an error", format: "json", make: () => fill("\n", "{", "x") },
  { name: "JSON nested arrays", format: "json", make: () => fill("[", '{"a":') },
  { name: "JSON array of 8 M items", format: "json", make: () => fill("1,", '{"a":[', "1]}") },
  { name: "JSON object of 1 M keys", format: "json", make: () => `{${numbered((index) => `"k${index}":1,`)}"z":1}` },
  { name: "binary with 1 M keys", format: "binary", make: () => `{${numbered((index) => `"k${index}":1,`)}"data":""}` },
  { name: "binary nested objects", format: "binary", make: () => fill('{"d":', "") },
  // dotenv and INI.
  { name: "dotenv of 4 M lines", format: "dotenv", make: () => fill("a=b\n") },
  { name: "dotenv of 8 M comment lines", format: "dotenv", make: () => fill("#\n") },
  // Flattened metadata (stores/flatten.go): each key below makes 20 nested lists of 1,001 slots; 40,000 keys stay under the node bound.
  { name: "dotenv metadata of sparse nested lists", format: "dotenv", make: () => sparseLists("sops_").join("") },
  { name: "INI metadata of sparse nested lists", format: "ini", make: () => `[sops]\n${sparseLists("").join("")}` },
  // One flattened metadata key of 2.8 M levels: it was split whole before its levels were counted (252 MiB).
  { name: "dotenv metadata key of 2.8 M levels", format: "dotenv", make: () => fill("__map_", "sops_", "=v\n") },
  { name: "INI metadata key of 2.8 M levels", format: "ini", make: () => fill("__map_", "[sops]\nx", " = v\n") },
  { name: "INI of 1.5 M keys", format: "ini", make: () => `[s]\n${numbered((index) => `k${index}=v\n`)}` },
  { name: "INI of 4 M sections", format: "ini", make: () => fill("[s]\n") },
  { name: "INI an unclosed multi-line value", format: "ini", make: () => fill("x\n", 'k="""') },
];

function sparseLists(prefix: string): string[] {
  return Array.from({ length: 40_000 }, (_, index) => `${prefix}k${index}${"__list_1000".repeat(20)}=v\n`);
}

/** `big: &a SCALAR`, a list of `inner` aliases of it, and a list of `outer` aliases of that list: SCALAR expanded inner x outer times. */
function nestedAliases(scalar: string, inner: number, outer: number): string {
  return `big: &a ${scalar}\nl1: &l1 [${Array(inner).fill("*a").join(", ")}]\nl2: [${Array(outer).fill("*l1").join(", ")}]\n`;
}

/** Nine levels of ten aliases each (10^9 nodes when expanded), as in the classic billion laughs. */
function aliasBomb(): string {
  const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let level = 1; level <= 9; level++) lines.push(`a${level}: &a${level} [${Array.from({ length: 10 }, () => `*a${level - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

/**
 * A sops file whose `sops.age` holds `entries` age entries of `stanzas`
 * stanzas each that no identity opens: each header is within the per-header
 * bound (256 stanzas, src/age/limits.ts), their sum is not. Issue 22 measured
 * 256 x 256: 6.3 s with X25519 stanzas, 10 s with ssh-ed25519 ones carrying
 * the host key's tag (`tag`), which each cost a key agreement. In YAML each
 * entry is a block scalar of about 670 lines for 256 stanzas, so 64 entries
 * stay under the YAML line bound; JSON holds all 256 on one line each.
 */
export function stanzaBombSops(format: "yaml" | "json", type: HostileStanzaType, entries: number, stanzas = 256, tag?: string): string {
  const age = Array.from({ length: entries }, (_, index) => ({
    recipient: `age1${String(index).padStart(58, "q")}`,
    enc: armor.encode(ageFileWithStanzas(hostileStanzas(type, stanzas, tag))),
  }));
  const file = { data: "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]", sops: { age, lastmodified: "2024-05-06T07:08:09Z", mac: "x", version: "3.9.0" } };
  return format === "json" ? JSON.stringify(file) : stringify(file, { lineWidth: 0 });
}

/** A sops JSON file with one age entry of 15 MiB (an armored age file with one foreign stanza and a large payload). */
export function largeAgeEntrySops(): string {
  const file = Buffer.concat([ageFileWithStanzas(hostileStanzas("X25519", 1)), Buffer.alloc(11 * 1024 * 1024, 7)]);
  return JSON.stringify({
    data: "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
    sops: { age: [{ recipient: "age1x", enc: armor.encode(file) }], lastmodified: "2024-05-06T07:08:09Z", mac: "x", version: "3.9.0" },
  });
}

/**
 * A sops YAML file that opens (its data key is wrapped for `recipient`) with
 * an `encrypted_comment_regex` and 10,000 comment lines above a map of 3,000
 * clear values: every value is in the scope of every comment. Testing each
 * comment again for each value cost 30 M regex tests (9.3 s for 73 KB); the
 * MAC does not match, which is only found after the walk.
 */
export async function commentScopeSops(recipient: string): Promise<string> {
  const { sops } = await encryptTree({ x: "y" }, { recipients: [recipient] });
  const { unencrypted_suffix: _, ...metadata } = sops;
  const body = `${"# c\n".repeat(10_000)}a:\n${Array.from({ length: 3_000 }, (_, index) => `  k${index}: v\n`).join("")}`;
  return `${body}${stringify({ sops: { ...metadata, encrypted_comment_regex: "^nomatch$" } })}`;
}

/**
 * sops files that open for `recipient` and whose values all authenticate,
 * yet cost each leaf a large size again: the data key opens, so the walk
 * reaches the decryption. Each must fail MALFORMED, named, before the MAC.
 */
export async function keyedHostileSops(recipient: string): Promise<Array<{ name: string; format: SopsFormat; contents: string }>> {
  const { sops, dataKey } = await encryptTree({ x: "y" }, { recipients: [recipient] });
  const metadata = stringify({ sops }, { lineWidth: 0 });
  // One encrypted 1 MiB value under "a", aliased 100 x 100 times in nested lists: list positions add nothing to the additional data, so every copy authenticates (was 2.4 GB and rising).
  const value = sealValue("Q".repeat(1024 * 1024), dataKey, "a:", "str");
  const aliased = `a:\n  - &v ${value}\n  - &l1 [${Array(100).fill("*v").join(", ")}]\n  - [${Array(100).fill("*l1").join(", ")}]\n${metadata}`;
  // One long key over a list of 45,000 copies of one small value sealed under it: each leaf re-joined and authenticated the whole key (8 MiB: killed at 100 s).
  const longKey = (key: string) =>
    `{${JSON.stringify(key)}:[${Array(45_000)
      .fill(JSON.stringify(sealValue("v", dataKey, `${key}:`, "str")))
      .join(",")}],"sops":${JSON.stringify(sops)}}`;
  return [
    { name: "keyed-aliased-value", format: "yaml", contents: aliased },
    { name: "keyed-8mib-key", format: "json", contents: longKey("K".repeat(8 * 1024 * 1024)) },
    { name: "keyed-64kib-key", format: "json", contents: longKey("K".repeat(64 * 1024)) },
  ];
}
