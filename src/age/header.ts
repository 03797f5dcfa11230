import type { Stanza as AgeStanza } from "age-encryption";
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { AgebootError } from "../errors.js";
import { decodeCanonicalBase64 } from "./base64.js";
import { MAX_STANZAS } from "./limits.js";

const VERSION_LINE = "age-encryption.org/v1";
const BODY_LINE_CHARS = 64;
const MAC_SIZE = 32;

/**
 * A header stanza, in the shape age-encryption's Identity interface takes. Our
 * own class, so that the common path (SSH and X25519 keys, binary files) never
 * loads age-encryption, whose post-quantum and WebAuthn code costs start-up time.
 */
export class Stanza implements AgeStanza {
  constructor(
    readonly args: string[],
    readonly body: Uint8Array,
  ) {}
}

export interface ParsedHeader {
  readonly stanzas: Stanza[];
  /** The header up to and including "---", which the MAC covers. */
  readonly macInput: Buffer;
  readonly mac: Buffer;
}

function malformed(why: string): AgebootError {
  return new AgebootError("MALFORMED", `malformed age header (${why})`);
}

/**
 * Parse an age v1 header (age spec, "Header"), strictly: a version line,
 * stanzas ("-> " arguments, then a body of full 64-character base64 lines ended
 * by a shorter one), and the MAC line. Written here because parsing through
 * age-encryption's web-stream line reader cost more per file than all the
 * cryptography (docs/performance.md); the stanzas are age-encryption Stanza
 * objects for its Identity interface.
 */
export function parseHeader(header: Buffer): ParsedHeader {
  const text = header.toString("latin1");
  if (!/^[\x20-\x7e\n]*$/.test(text)) throw malformed("a byte outside printable ASCII");
  const lines = text.split("\n");
  if (lines.pop() !== "") throw malformed("no final newline");
  if (lines[0] !== VERSION_LINE) throw malformed("no age-encryption.org/v1 version line");
  const stanzas: Stanza[] = [];
  let index = 1;
  while (index < lines.length && lines[index]!.startsWith("-> ")) {
    // Checked before the stanza is parsed: identities try every stanza, so their number bounds the work.
    if (stanzas.length === MAX_STANZAS) throw malformed(`more than ${MAX_STANZAS} recipient stanzas; no real file has that many (src/age/limits.ts)`);
    const args = lines[index]!.slice(3).split(" ");
    if (args.some((arg) => arg === "")) throw malformed(`empty argument in stanza ${stanzas.length + 1}`);
    const bodyParts: Buffer[] = [];
    for (;;) {
      const line = lines[++index];
      if (line === undefined) throw malformed(`stanza ${stanzas.length + 1} has no end`);
      const bytes = line.length <= BODY_LINE_CHARS ? decodeCanonicalBase64(line) : null;
      if (bytes === null) throw malformed(`stanza ${stanzas.length + 1} body is not canonical base64 in lines of 64 characters`);
      bodyParts.push(bytes);
      if (line.length < BODY_LINE_CHARS) break;
    }
    stanzas.push(new Stanza(args, Buffer.concat(bodyParts)));
    index++;
  }
  const macLine = lines[index];
  if (macLine === undefined || !macLine.startsWith("--- ") || index !== lines.length - 1) throw malformed("no MAC line after the stanzas");
  const mac = decodeCanonicalBase64(macLine.slice(4));
  if (mac === null || mac.length !== MAC_SIZE) throw malformed("MAC is not 32 bytes of canonical base64");
  return { stanzas, macInput: header.subarray(0, header.length - macLine.length + 2), mac };
}

/** Check the header MAC with the unwrapped file key (HMAC-SHA-256 keyed by HKDF(file key, "header")). */
export function verifyHeaderMac(parsed: ParsedHeader, fileKey: Uint8Array): void {
  const macKey = Buffer.from(hkdfSync("sha256", fileKey, Buffer.alloc(0), "header", 32));
  const expected = createHmac("sha256", macKey).update(parsed.macInput).digest();
  if (!timingSafeEqual(expected, parsed.mac)) {
    throw new AgebootError("CORRUPT", "header MAC does not verify: the header was modified, or the file is corrupt");
  }
}
