import { AgebootError } from "../errors.js";
import { readMetadata, type SopsMetadata, toPlain, unflatten } from "./metadata.js";
import { parseDotenv, parseIni } from "./parse-flat.js";
import { parseJsonDocument } from "./parse-json.js";
import { parseYamlDocuments } from "./parse-yaml.js";
import type { SopsMap, SopsMapEntry, SopsValue } from "./tree.js";

export const SOPS_FORMATS = ["yaml", "json", "dotenv", "ini", "binary"] as const;
export type SopsFormat = (typeof SOPS_FORMATS)[number];

/** An encrypted sops document: its branches (one per YAML document) without the metadata, and the metadata. */
export interface EncryptedDocument {
  readonly format: SopsFormat;
  readonly branches: SopsMap[];
  readonly metadata: SopsMetadata;
}

/**
 * Parse a sops file of the given store and take its metadata out
 * (stores/metadata.go ExtractMetadata): the `sops` key of every branch (read
 * from the first) for YAML, JSON and binary; keys prefixed `sops_` for dotenv;
 * the `[sops]` section for INI, both flattened, with literal "\n" in INI
 * metadata turned into newlines.
 */
export function parseSopsDocument(text: string, format: SopsFormat): EncryptedDocument {
  switch (format) {
    case "yaml":
      return nested(format, parseYamlDocuments(text));
    case "json":
    case "binary": {
      const document = nested(format, [parseJsonDocument(text)]);
      if (format === "binary") binaryData(document.branches[0]!);
      return document;
    }
    case "dotenv": {
      const branch = parseDotenv(text);
      const [metadata, rest] = partition(branch, (key) => key.startsWith("sops_"));
      if (metadata.length === 0) throw notSops();
      const flat = metadata.map((entry) => [entry.key.slice(5), scalarText(entry.value)] as const);
      return { format, branches: [rest], metadata: readMetadata(unflatten(flat)) };
    }
    case "ini": {
      const branch = parseIni(text);
      const [sections, rest] = partition(branch, (key) => key === "sops");
      if (sections.length === 0) throw notSops();
      const flat = sections.flatMap((section) =>
        section.value.kind === "map"
          ? section.value.items.flatMap((item) => (item.kind === "entry" ? [[item.key, scalarText(item.value).replaceAll("\\n", "\n")] as const] : []))
          : [],
      );
      return { format, branches: [rest], metadata: readMetadata(unflatten(flat)) };
    }
  }
}

function nested(format: SopsFormat, branches: SopsMap[]): EncryptedDocument {
  const first = branches[0];
  const found = first?.items.find((item): item is SopsMapEntry => item.kind === "entry" && item.key === "sops");
  if (found === undefined) throw notSops();
  if (first!.items.filter((item) => item.kind === "entry" && item.key === "sops").length > 1) throw new AgebootError("MALFORMED", 'the file has two "sops" entries');
  const stripped = branches.map((branch) => ({ kind: "map" as const, items: branch.items.filter((item) => !(item.kind === "entry" && item.key === "sops")) }));
  return { format, branches: stripped, metadata: readMetadata(toPlain(found.value)) };
}

/** The binary store holds exactly the string `data` (stores/json/store.go BinaryStore). */
function binaryData(branch: SopsMap): void {
  const data = branch.items.filter((item) => item.kind === "entry" && item.key === "data");
  if (data.length !== 1 || branch.items.some((item) => item.kind === "entry" && item.key !== "data")) {
    throw new AgebootError("MALFORMED", 'not a sops binary file: it must hold exactly one "data" value besides "sops" (is the format right?)');
  }
}

function partition(branch: SopsMap, isMetadata: (key: string) => boolean): [SopsMapEntry[], SopsMap] {
  const metadata = branch.items.filter((item): item is SopsMapEntry => item.kind === "entry" && isMetadata(item.key));
  return [metadata, { kind: "map", items: branch.items.filter((item) => !(item.kind === "entry" && isMetadata(item.key))) }];
}

function scalarText(value: SopsValue): string {
  return value.kind === "scalar" ? value.text : "";
}

function notSops(): AgebootError {
  return new AgebootError("MALFORMED", "not a sops file: it has no sops metadata (is it encrypted with sops, and is the format right?)");
}
