/**
 * A sops document as sops itself models it (sops.go TreeBranch): ordered maps
 * whose entries are keys or comments, lists whose items may be comments, and
 * typed scalars. Order and duplicate keys are kept as the file has them,
 * because the MAC is computed over the values in document order.
 */

/** The value types sops knows (aes/cipher.go `type:`), plus the clear-text ones its stores produce. */
export type ScalarType = "str" | "int" | "float" | "bool" | "time" | "bytes";

/**
 * A leaf. `text` is the value as sops' ToBytes writes it (what the MAC
 * hashes): a string as is, an int in decimal, a float in Go's shortest fixed
 * notation, a bool as True/False, a time in RFC 3339 with nanoseconds.
 * `bytes` holds the decrypted bytes of an encrypted value (zeroed when the
 * run ends); clear values have none.
 */
export interface SopsScalar {
  readonly kind: "scalar";
  readonly type: ScalarType;
  readonly text: string;
  readonly bytes?: Buffer;
}

export interface SopsComment {
  readonly kind: "comment";
  readonly text: string;
  /**
   * A YAML line comment of a scalar (`key: value # text`), which sops keeps
   * before its entry and writes back on the value's line (sops.Comment.Inline).
   */
  readonly inline?: boolean;
}

export interface SopsMapEntry {
  readonly kind: "entry";
  readonly key: string;
  readonly value: SopsValue;
}

export interface SopsMap {
  readonly kind: "map";
  readonly items: Array<SopsMapEntry | SopsComment>;
}

export interface SopsList {
  readonly kind: "list";
  readonly items: Array<SopsValue | SopsComment>;
}

export interface SopsNull {
  readonly kind: "null";
}

export type SopsValue = SopsMap | SopsList | SopsScalar | SopsNull;

export const NULL: SopsNull = { kind: "null" };

export function scalar(type: ScalarType, text: string): SopsScalar {
  return { kind: "scalar", type, text };
}

export function str(text: string): SopsScalar {
  return scalar("str", text);
}

/** The entries of a map with a key (comments left out), in file order. */
export function entries(map: SopsMap): SopsMapEntry[] {
  return map.items.filter((item): item is SopsMapEntry => item.kind === "entry");
}
