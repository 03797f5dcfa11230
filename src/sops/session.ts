import { closeSync, fstatSync } from "node:fs";
import { AgebootError } from "../errors.js";
import type { LoadedIdentity } from "../identities/types.js";
import { readFully } from "../read-fully.js";
import { unwrapDataKey } from "./data-key.js";
import { decryptDocument } from "./decrypt-tree.js";
import { parseSopsDocument, type SopsFormat } from "./document.js";
import { emitPlainFile } from "./emit.js";
import { valueAtKeyPath } from "./key-path.js";
import { SOPS_LIMITS } from "./limits.js";
import type { SopsMap } from "./tree.js";

/** A sops file opened once: its decrypted branches, or why it could not be. */
type Opened = { readonly branches: SopsMap[] } | { readonly error: AgebootError };

/**
 * The sops files of one run, each read, unwrapped (data key), decrypted and
 * MAC-checked once however many secrets use it (sops-nix decrypts once per
 * secret). One session per thread: staging keeps all secrets of a sops file
 * on the same thread (src/activation/stage-parallel.ts), so plaintext never
 * crosses threads. close() zeroes every decrypted buffer.
 */
export class SopsSession {
  private readonly files = new Map<string, Promise<Opened>>();
  private readonly plaintexts: Buffer[] = [];

  constructor(private readonly identities: readonly LoadedIdentity[]) {}

  /** The secret's bytes: the value at `key`, or the whole file for key "" and for dotenv, INI and binary (where sops-nix ignores `key`). */
  async secret(file: string, format: SopsFormat, key: string, openDescriptor: () => number): Promise<Buffer> {
    const cacheKey = `${format}\0${file}`;
    let opened = this.files.get(cacheKey);
    if (opened === undefined) {
      opened = this.open(format, openDescriptor);
      this.files.set(cacheKey, opened);
    }
    const result = await opened;
    if ("error" in result) throw result.error;
    const bytes = key === "" || format === "dotenv" || format === "ini" || format === "binary" ? emitPlainFile(format, result.branches) : valueAtKeyPath(result.branches[0]!, key);
    this.plaintexts.push(bytes);
    return bytes;
  }

  /** How many sops files were opened (each once). */
  get filesOpened(): number {
    return this.files.size;
  }

  close(): void {
    for (const buffer of this.plaintexts) buffer.fill(0);
    this.plaintexts.length = 0;
    this.files.clear();
  }

  private async open(format: SopsFormat, openDescriptor: () => number): Promise<Opened> {
    try {
      const text = readBounded(openDescriptor());
      const document = parseSopsDocument(text, format);
      const dataKey = await unwrapDataKey(document.metadata, this.identities);
      try {
        return { branches: decryptDocument(document.branches, document.metadata, dataKey, this.plaintexts) };
      } finally {
        dataKey.fill(0);
      }
    } catch (error) {
      if (error instanceof AgebootError) return { error };
      return { error: new AgebootError("IO", error instanceof Error ? error.message : String(error)) };
    }
  }
}

function readBounded(descriptor: number): string {
  try {
    const { size } = fstatSync(descriptor);
    if (size > SOPS_LIMITS.fileBytes) throw new AgebootError("MALFORMED", `larger than ${SOPS_LIMITS.fileBytes} bytes, too large for a sops file`);
    const buffer = Buffer.alloc(size);
    if (readFully(descriptor, buffer, 0) < size) throw new AgebootError("IO", "file shrank while being read");
    return buffer.toString("utf8");
  } finally {
    closeSync(descriptor);
  }
}
