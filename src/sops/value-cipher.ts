import { createDecipheriv } from "node:crypto";
import { AgebootError } from "../errors.js";

const PREFIX = "ENC[AES256_GCM,data:";
const TAG_BYTES = 16;
// Standard padded base64 as a character run and a length: a regex repeating
// 4-character groups keeps one backtrack entry per group, and a value of a few
// MiB (a large binary secret) overflowed the stack.
const BASE64_CHARACTERS = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (text: string) => text.length % 4 === 0 && BASE64_CHARACTERS.test(text);

/** An `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` value (aes/cipher.go), split into its parts. */
export interface EncryptedValue {
  readonly data: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly type: string;
}

export function isEncryptedValue(text: string): boolean {
  return text.startsWith(PREFIX);
}

/**
 * Split an encrypted value without a backtracking regex (sops' own is RE2,
 * anchored at the start, greedy): each field runs to the last occurrence of
 * the next field's name, which is what the greedy groups pick. Base64 never
 * holds a comma, so on any value sops wrote the split is the same.
 */
export function parseEncryptedValue(text: string): EncryptedValue {
  const bad = (why: string) => new AgebootError("MALFORMED", `encrypted value is malformed: ${why}`);
  if (!text.startsWith(PREFIX)) throw bad("it does not start with ENC[AES256_GCM,");
  const end = text.lastIndexOf("]");
  const typeAt = text.lastIndexOf(",type:", end);
  const tagAt = text.lastIndexOf(",tag:", typeAt);
  const ivAt = text.lastIndexOf(",iv:", tagAt);
  if (end < 0 || typeAt < PREFIX.length || tagAt < PREFIX.length || ivAt < PREFIX.length - 1) throw bad("a field is missing");
  const field = (from: number, to: number, name: string) => {
    const encoded = text.slice(from, to);
    if (!isBase64(encoded)) throw bad(`${name} is not base64`);
    return Buffer.from(encoded, "base64");
  };
  const data = field(PREFIX.length, ivAt, "data");
  const iv = field(ivAt + 4, tagAt, "iv");
  const tag = field(tagAt + 5, typeAt, "tag");
  if (iv.length === 0) throw bad("iv is empty");
  if (tag.length !== TAG_BYTES) throw bad(`tag is ${tag.length} bytes, not ${TAG_BYTES}`);
  return { data, iv, tag, type: text.slice(typeAt + 6, end) };
}

/**
 * AES-256-GCM open with the value's key path as additional data. Returns null
 * when the value does not authenticate (wrong key, wrong place, tampered): the
 * caller knows which value that was and says so.
 */
export function openValue(value: EncryptedValue, dataKey: Buffer, additionalData: string): Buffer | null {
  const decipher = createDecipheriv("aes-256-gcm", dataKey, value.iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(value.tag);
  decipher.setAAD(Buffer.from(additionalData, "utf8"));
  const head = decipher.update(value.data);
  try {
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    head.fill(0);
    return null;
  }
}
