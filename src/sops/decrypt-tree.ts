import { createHash, timingSafeEqual } from "node:crypto";
import { AgebootError } from "../errors.js";
import { SOPS_LIMITS } from "./limits.js";
import { lastModifiedAad, typedValue } from "./scalars.js";
import type { SopsMetadata } from "./metadata.js";
import { type CommentLevel, clearCommentLevel, newCommentLevel, selector, type Selector } from "./selection.js";
import type { SopsComment, SopsList, SopsMap, SopsMapEntry, SopsScalar, SopsValue } from "./tree.js";
import { isEncryptedValue, openValue, parseEncryptedValue } from "./value-cipher.js";

/** SHA-256("sops"): fed first when only encrypted values are in the MAC (sops.go MACOnlyEncryptedInitialization). */
const MAC_ONLY_ENCRYPTED_INITIALIZATION = Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex");

/**
 * Decrypt every value of a document with its data key and check the MAC, as
 * sops' Tree.Decrypt and DecryptTree do (sops.go, cmd/sops/common): walk
 * maps and lists in file order, decrypt what the selection rule says is
 * encrypted with its key path as additional data (`a:b:c:`; list positions
 * add nothing; a comment uses the path of the map or list around it), feed
 * each non-comment, non-null leaf's bytes to SHA-512, then compare with the
 * stored MAC, itself decrypted with `lastmodified` as additional data.
 * There is no way to skip the MAC. Returns the decrypted branches; every
 * decrypted buffer is listed in `plaintexts` so the caller can zero it.
 */
export function decryptDocument(branches: readonly SopsMap[], metadata: SopsMetadata, dataKey: Buffer, plaintexts: Buffer[]): SopsMap[] {
  const walker = new TreeWalker(selector(metadata.rule), metadata.macOnlyEncrypted, dataKey, plaintexts);
  const decrypted = branches.map((branch) => walker.map(branch, [], "", []));
  verifyMac(walker.digest(), metadata, dataKey);
  return decrypted;
}

function verifyMac(computed: Buffer, metadata: SopsMetadata, dataKey: Buffer): void {
  if (metadata.mac === "") throw new AgebootError("CORRUPT", 'the file has no MAC (sops metadata "mac" is missing or empty); refusing it, as sops does without --ignore-mac');
  const aad = lastModifiedAad(metadata.lastModified);
  const stored = openValue(parseEncryptedValue(metadata.mac), dataKey, aad);
  if (stored === null) {
    throw new AgebootError(
      "CORRUPT",
      `the MAC does not authenticate with lastmodified "${metadata.lastModified}": the metadata was edited (lastmodified or mac changed) or the MAC belongs to another file`,
    );
  }
  const expected = Buffer.from(computed.toString("hex").toUpperCase());
  if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) {
    throw new AgebootError("CORRUPT", "MAC mismatch: the values are not the ones the MAC was computed over (values reordered, removed, added or replaced)");
  }
}

/**
 * The walk carries each value's key path and its additional data (`a:b:c:`),
 * the latter built one key at a time on the way down rather than joined again
 * for every leaf. Key length, the additional data over all leaves and the
 * bytes decrypted are bounded per file (SOPS_LIMITS): a long key, or a YAML
 * alias repeating an encrypted value, otherwise makes each leaf cost its full
 * size again.
 */
class TreeWalker {
  private readonly hash = createHash("sha512");
  private pathChars = 0;
  private decryptedBytes = 0;

  constructor(
    private readonly selection: Selector,
    private readonly macOnlyEncrypted: boolean,
    private readonly dataKey: Buffer,
    private readonly plaintexts: Buffer[],
  ) {
    if (macOnlyEncrypted) this.hash.update(MAC_ONLY_ENCRYPTED_INITIALIZATION);
  }

  digest(): Buffer {
    return this.hash.digest();
  }

  map(map: SopsMap, path: readonly string[], aad: string, stack: readonly CommentLevel[]): SopsMap {
    const level = newCommentLevel();
    const comments = [...stack, level];
    const items: Array<SopsMapEntry | SopsComment> = [];
    for (const item of map.items) {
      if (item.kind === "comment") {
        this.selection.see(level, item.text);
        items.push(this.comment(item, path, aad, comments));
        continue;
      }
      if (item.key.length > SOPS_LIMITS.keyChars)
        throw new AgebootError("MALFORMED", `a key under ${describePath(path.map((key) => key.slice(0, 80)))} is longer than ${SOPS_LIMITS.keyChars} characters`);
      items.push({ kind: "entry", key: item.key, value: this.value(item.value, [...path, item.key], `${aad}${item.key}:`, comments) });
      clearCommentLevel(level);
    }
    return { kind: "map", items };
  }

  private list(list: SopsList, path: readonly string[], aad: string, stack: readonly CommentLevel[]): SopsList {
    const level = newCommentLevel();
    const comments = [...stack, level];
    const items: Array<SopsValue | SopsComment> = [];
    for (const item of list.items) {
      if (item.kind === "comment") {
        this.selection.see(level, item.text);
        items.push(this.comment(item, path, aad, comments));
        continue;
      }
      items.push(this.value(item, path, aad, comments));
      clearCommentLevel(level);
    }
    return { kind: "list", items };
  }

  private value(value: SopsValue, path: readonly string[], aad: string, comments: readonly CommentLevel[]): SopsValue {
    switch (value.kind) {
      case "map":
        return this.map(value, path, aad, comments);
      case "list":
        return this.list(value, path, aad, comments);
      case "null":
        return value;
      case "scalar":
        return this.leaf(value, path, aad, comments);
    }
  }

  /** Each leaf and comment is decided on, and perhaps opened, with its whole key path: count it. */
  private walkPath(path: readonly string[], aad: string): void {
    this.pathChars += aad.length;
    if (this.pathChars > SOPS_LIMITS.pathChars)
      throw new AgebootError(
        "MALFORMED",
        `the key paths of the values add up to more than ${SOPS_LIMITS.pathChars} characters (at ${describePath(path.map((key) => key.slice(0, 80)))})`,
      );
  }

  private leaf(value: SopsScalar, path: readonly string[], aad: string, comments: readonly CommentLevel[]): SopsScalar {
    this.walkPath(path, aad);
    const encrypted = this.selection.encrypted(path, comments, false);
    let result = value;
    if (encrypted) {
      if (value.type !== "str") throw new AgebootError("MALFORMED", `value at ${describePath(path)} should be encrypted but is a clear ${value.type}`);
      if (value.text !== "") result = this.open(value.text, path, aad);
    }
    if (!this.macOnlyEncrypted || encrypted) this.hash.update(macBytes(result));
    return result;
  }

  private open(text: string, path: readonly string[], aad: string): SopsScalar {
    if (!isEncryptedValue(text)) throw new AgebootError("MALFORMED", `value at ${describePath(path)} should be encrypted but is not an ENC[AES256_GCM,...] value`);
    const parsed = parseEncryptedValue(text);
    if (parsed.type === "comment") throw new AgebootError("MALFORMED", `value at ${describePath(path)} is an encrypted comment`);
    const plaintext = openValue(parsed, this.dataKey, aad);
    if (plaintext === null) {
      throw new AgebootError("CORRUPT", `value at ${describePath(path)} does not authenticate: it was moved from another key, edited, or encrypted with another data key`);
    }
    this.plaintexts.push(plaintext);
    this.countDecrypted(plaintext.length, path);
    return typedValue(parsed.type, plaintext);
  }

  /** Comments that fail to decrypt stay as they are, as sops keeps them (files from before sops 3.0.5 had clear comments). */
  private comment(comment: SopsComment, path: readonly string[], aad: string, comments: readonly CommentLevel[]): SopsComment {
    this.walkPath(path, aad);
    if (!this.selection.encrypted(path, comments, true) || !isEncryptedValue(comment.text)) return comment;
    let plaintext: Buffer | null;
    try {
      // A top-level comment's additional data is ":" (the empty path joined, then ":").
      plaintext = openValue(parseEncryptedValue(comment.text), this.dataKey, path.length === 0 ? ":" : aad);
    } catch {
      return comment;
    }
    if (plaintext === null) return comment;
    this.plaintexts.push(plaintext);
    this.countDecrypted(plaintext.length, path);
    return { ...comment, text: plaintext.toString("utf8") };
  }

  /** Without aliases a file decrypts to fewer bytes than it has; an alias repeats a value's decryption (one value aliased 10,000 times: 2.4 GB). */
  private countDecrypted(bytes: number, path: readonly string[]): void {
    this.decryptedBytes += bytes;
    if (this.decryptedBytes > SOPS_LIMITS.decryptedBytes)
      throw new AgebootError(
        "MALFORMED",
        `the values decrypt to more than ${SOPS_LIMITS.decryptedBytes} bytes in all (at ${describePath(path.map((key) => key.slice(0, 80)))}); a YAML alias repeats its value`,
      );
  }
}

/** What a leaf contributes to the MAC (sops.go ToBytes): the raw bytes of a string, the canonical text of any other type. */
function macBytes(value: SopsScalar): Buffer {
  if ((value.type === "str" || value.type === "bytes") && value.bytes !== undefined) return value.bytes;
  return Buffer.from(value.text, "utf8");
}

/** A key path for messages: components joined by "/", as the manifest's `key` is written. */
export function describePath(path: readonly string[]): string {
  if (path.length === 0) return "the top level";
  // Keys come from the file and may be 64 KiB each: quoted cut, never whole.
  const joined = path.join("/");
  return joined.length > 200 ? `"${joined.slice(0, 200)}…" (${joined.length} characters)` : `"${joined}"`;
}
