// A sops encoder for tests, written from the format notes (docs/sops.md):
// values sealed with AES-256-GCM under their key path, the MAC over the
// values in order, the data key wrapped to age recipients as armored age
// files. It exists so tests can make sops files with known contents; the
// product only decrypts.
import { armor, Encrypter } from "age-encryption";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { stringify } from "yaml";

export type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

export function sealValue(plaintext: string | Buffer, dataKey: Buffer, aad: string, type: string): string {
  const iv = randomBytes(32);
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${cipher.getAuthTag().toString("base64")},type:${type}]`;
}

/** sops' ToBytes text and type tag of a leaf. */
function leaf(value: string | number | boolean): [string, string] {
  if (typeof value === "boolean") return [value ? "True" : "False", "bool"];
  if (typeof value === "number") return Number.isInteger(value) ? [String(value), "int"] : [String(value), "float"];
  return [value, "str"];
}

export interface CraftOptions {
  /** One key group: each recipient gets the whole data key (sops' flat `age` list). */
  recipients: string[];
  /**
   * Several key groups instead (sops' `key_groups`): the data key is split
   * into one Shamir share per group, each group's recipients get its share,
   * and `shamirThreshold` groups are needed (sops' default: all of them).
   */
  keyGroups?: string[][];
  shamirThreshold?: number;
  dataKey?: Buffer;
  lastmodified?: string;
  unencryptedSuffix?: string;
}

/** Encrypt a tree: every leaf whose path has no component ending in "_unencrypted" is sealed; returns the encrypted tree and the metadata. */
export async function encryptTree(
  tree: { [key: string]: Plain },
  options: CraftOptions,
): Promise<{ tree: { [key: string]: Plain }; sops: { [key: string]: Plain }; dataKey: Buffer }> {
  const dataKey = options.dataKey ?? randomBytes(32);
  const suffix = options.unencryptedSuffix ?? "_unencrypted";
  const hash = createHash("sha512");
  const walk = (value: Plain, path: string[]): Plain => {
    if (value === null) return null;
    if (Array.isArray(value)) return value.map((item) => walk(item, path));
    if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key])]));
    const [text, type] = leaf(value);
    hash.update(text);
    if (path.some((part) => part.endsWith(suffix)) || text === "") return value;
    return sealValue(text, dataKey, `${path.join(":")}:`, type);
  };
  const encrypted = walk(tree, []) as { [key: string]: Plain };
  const lastmodified = options.lastmodified ?? "2024-05-06T07:08:09Z";
  const age: Plain[] = [];
  const mac = sealValue(hash.digest("hex").toUpperCase(), dataKey, lastmodified, "str");
  const common = { lastmodified, mac, unencrypted_suffix: suffix, version: "3.9.0" };
  if (options.keyGroups === undefined) {
    for (const recipient of options.recipients) age.push(await ageEntry(recipient, dataKey));
    return { tree: encrypted, sops: { age, ...common }, dataKey };
  }
  const threshold = options.shamirThreshold ?? options.keyGroups.length;
  const shares = splitSecret(dataKey, options.keyGroups.length, threshold);
  const keyGroups: Plain[] = [];
  for (const [index, recipients] of options.keyGroups.entries()) {
    const entries: Plain[] = [];
    for (const recipient of recipients) entries.push(await ageEntry(recipient, shares[index]!));
    keyGroups.push({ age: entries });
  }
  return { tree: encrypted, sops: { shamir_threshold: threshold, key_groups: keyGroups, ...common }, dataKey };
}

export async function craftYaml(tree: { [key: string]: Plain }, options: CraftOptions): Promise<string> {
  const { tree: encrypted, sops } = await encryptTree(tree, options);
  return stringify({ ...encrypted, sops }, { indent: 4, lineWidth: 0 });
}

export async function craftJson(tree: { [key: string]: Plain }, options: CraftOptions): Promise<string> {
  const { tree: encrypted, sops } = await encryptTree(tree, options);
  return `${JSON.stringify({ ...encrypted, sops }, null, "\t")}\n`;
}

export async function craftBinary(data: string, options: CraftOptions): Promise<string> {
  return craftJson({ data }, options);
}

/** Flatten metadata as the dotenv and INI stores do: `age__list_0__map_enc`, newlines as a literal "\n". */
function flatten(value: Plain, prefix: string, out: Array<[string, string]>): void {
  if (Array.isArray(value)) for (const [index, item] of value.entries()) flatten(item, `${prefix}__list_${index}`, out);
  else if (value !== null && typeof value === "object") for (const [key, item] of Object.entries(value)) flatten(item, prefix === "" ? key : `${prefix}__map_${key}`, out);
  else out.push([prefix, String(value).replaceAll("\n", "\\n")]);
}

export async function craftDotenv(pairs: { [key: string]: string }, options: CraftOptions): Promise<string> {
  const { tree, sops } = await encryptTree(pairs, options);
  const metadata: Array<[string, string]> = [];
  flatten(sops, "", metadata);
  return `${[...Object.entries(tree).map(([key, value]) => `${key}=${String(value).replaceAll("\n", "\\n")}`), ...metadata.map(([key, value]) => `sops_${key}=${value}`)].join("\n")}\n`;
}

export async function craftIni(sections: { [section: string]: { [key: string]: string } }, options: CraftOptions): Promise<string> {
  const { tree, sops } = await encryptTree(sections, options);
  const metadata: Array<[string, string]> = [];
  flatten(sops, "", metadata);
  const body = Object.entries(tree as { [section: string]: { [key: string]: string } }).map(
    ([section, keys]) =>
      `[${section}]\n${Object.entries(keys)
        .map(([key, value]) => `${key} = ${value}\n`)
        .join("")}`,
  );
  return `${[...body, `[sops]\n${metadata.map(([key, value]) => `${key} = ${value}\n`).join("")}`].join("\n")}`;
}

async function ageEntry(recipient: string, payload: Buffer): Promise<Plain> {
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  return { recipient, enc: armor.encode(await encrypter.encrypt(payload)) };
}

/** Multiplication in GF(2^8) modulo x^8+x^4+x^3+x+1, the field of sops' shamir package (shamir/shamir.go, from Vault). */
function gfMultiply(a: number, b: number): number {
  let product = 0;
  for (let bit = 7; bit >= 0; bit--) {
    product = ((product << 1) ^ (product & 0x80 ? 0x1b : 0)) & 0xff;
    if ((b >> bit) & 1) product ^= a;
  }
  return product;
}

/**
 * sops' shamir.Split: per secret byte a random polynomial of degree
 * threshold-1 with that byte at 0, evaluated at x = 1..parts; each share is
 * its y bytes followed by its x.
 */
export function splitSecret(secret: Buffer, parts: number, threshold: number): Buffer[] {
  if (threshold < 2 || parts < threshold || parts > 255) throw new Error("splitSecret: need 2 <= threshold <= parts <= 255");
  const shares = Array.from({ length: parts }, (_, index) => {
    const share = Buffer.alloc(secret.length + 1);
    share[secret.length] = index + 1;
    return share;
  });
  for (const [index, byte] of secret.entries()) {
    const coefficients = [byte, ...randomBytes(threshold - 1)];
    for (const [part, share] of shares.entries()) {
      const x = part + 1;
      // Horner's rule from the highest coefficient.
      let y = 0;
      for (let degree = coefficients.length - 1; degree >= 0; degree--) y = gfMultiply(y, x) ^ coefficients[degree]!;
      share[index] = y;
    }
  }
  return shares;
}
