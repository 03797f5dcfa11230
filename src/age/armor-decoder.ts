import { AgebootError } from "../errors.js";

export const ARMOR_BEGIN = Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----");
export const ARMOR_END = Buffer.from("-----END AGE ENCRYPTED FILE-----");
/** Columns of every body line but the last. */
export const ARMOR_COLUMNS = 64;
const COLUMNS = ARMOR_COLUMNS;
/** The longest line worth keeping while waiting for its end: a body line with CR, or BEGIN. */
const LONGEST_LINE = COLUMNS + 1;
const LF = 0x0a;
const CR = 0x0d;
const PAD = 0x3d; // "="
const INVALID = 0xff;
const BASE64_VALUES = (() => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const values = new Uint8Array(256).fill(INVALID);
  for (let index = 0; index < alphabet.length; index++) values[alphabet.charCodeAt(index)] = index;
  return values;
})();
/** Decoded bytes handed to the sink at a time. */
const OUTPUT_BYTES = 256 * 1024;
/** A full body line and its LF: what the fast path decodes. */
const FULL_LINE = COLUMNS + 1;
const FULL_LINE_DECODED = (COLUMNS / 4) * 3;
/**
 * Full lines decoded by Node's native base64 decoder per call: about 64 KB of
 * text, where it is fastest (a string much larger goes to V8's large-object
 * space and runs at a hundredth of the speed; a much smaller one pays the call).
 */
const FAST_PATH_LINES = 1000;
const DASH = 0x2d; // "-": starts the END line, and is base64url, which the native decoder accepts
const UNDERSCORE = 0x5f; // base64url too

/** Space, \t, \n, \v, \f, \r: the white space allowed before and after the armor. */
export function isAsciiSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

type Phase = "leading space" | "begin line" | "body" | "trailing space";

/**
 * The age ASCII armor (C2SP age.md, "ASCII armor": strict PEM, RFC 7468
 * section 3, label "AGE ENCRYPTED FILE", canonical padded base64), decoded
 * as it arrives, in constant memory: what age-encryption's armor.decode
 * accepts, without holding the file or its text. White space is allowed
 * before BEGIN and after END (space, \t, \n, \v, \f, \r), lines end in LF
 * or CRLF, every body line but the last has exactly 64 columns, the last has
 * 1 to 64 and a multiple of 4, "=" only ends the last line, the bits that
 * padding leaves over are zero, and nothing else is accepted.
 *
 * push() armored bytes in any pieces, then end(); decoded bytes go to `sink`
 * in pieces that are only valid during the call. Throws AgebootError
 * (MALFORMED) at the first fault, with its line.
 */
export class ArmorDecoder {
  private phase: Phase = "leading space";
  /** The start of a line whose end is in a later piece. */
  private partial: Buffer = Buffer.alloc(0);
  private line = 0;
  /** The last body line was short or padded: only the END line may follow. */
  private sawLastBodyLine = false;
  private readonly output = Buffer.allocUnsafe(OUTPUT_BYTES);
  private outputLength = 0;

  constructor(private readonly sink: (bytes: Buffer) => void) {}

  push(bytes: Buffer): void {
    let position = 0;
    if (this.partial.length > 0) {
      const newline = bytes.indexOf(LF);
      if (newline < 0) {
        this.keepPartial(Buffer.concat([this.partial, bytes]));
        return;
      }
      const line = Buffer.concat([this.partial, bytes.subarray(0, newline)]);
      this.partial = Buffer.alloc(0);
      this.takeLine(line, 0, line.length);
      position = newline + 1;
    }
    while (position < bytes.length) {
      if (this.phase === "leading space" || this.phase === "trailing space") {
        while (position < bytes.length && isAsciiSpace(bytes[position]!)) position++;
        if (position === bytes.length) break;
        if (this.phase === "trailing space") throw this.malformed("data after the END line");
        this.phase = "begin line";
      }
      if (this.phase === "body") position = this.decodeFullLines(bytes, position);
      if (position === bytes.length) break;
      const newline = bytes.indexOf(LF, position);
      if (newline < 0) {
        this.keepPartial(Buffer.from(bytes.subarray(position)));
        break;
      }
      this.takeLine(bytes, position, newline);
      position = newline + 1;
    }
    this.flush();
  }

  end(): void {
    // A last line without its newline: the END line, as in files written without one.
    if (this.partial.length > 0) {
      const line = this.partial;
      this.partial = Buffer.alloc(0);
      this.takeLine(line, 0, line.length);
    }
    if (this.phase === "leading space") throw this.malformed("no -----BEGIN AGE ENCRYPTED FILE----- line");
    if (this.phase !== "trailing space") throw this.malformed("no -----END AGE ENCRYPTED FILE----- line");
    this.flush();
  }

  /** Bytes `start` to the LF at `newline` (or the end) of `bytes`: one line, its CR removed. */
  private takeLine(bytes: Buffer, start: number, newline: number): void {
    this.line++;
    const end = newline > start && bytes[newline - 1] === CR ? newline - 1 : newline;
    if (this.phase === "begin line") {
      if (!bytes.subarray(start, end).equals(ARMOR_BEGIN)) throw this.malformed("the first line is not -----BEGIN AGE ENCRYPTED FILE-----");
      this.phase = "body";
    } else if (this.phase === "body") {
      if (this.isEndLine(bytes, start, end)) this.phase = "trailing space";
      else if (this.sawLastBodyLine) throw this.malformed("a line after the last (short or padded) line, where the END line must be");
      else this.decodeLine(bytes, start, end);
    } else {
      throw this.malformed("data after the END line");
    }
  }

  /** END, and white space only after it on that line (the white space after the armor may start there). */
  private isEndLine(bytes: Buffer, start: number, end: number): boolean {
    // "-" is not base64: a body line is told apart by its first byte, without a comparison per line.
    if (bytes[start] !== ARMOR_END[0] || end - start < ARMOR_END.length || !bytes.subarray(start, start + ARMOR_END.length).equals(ARMOR_END)) return false;
    for (let index = start + ARMOR_END.length; index < end; index++) if (!isAsciiSpace(bytes[index]!)) return false;
    return true;
  }

  /**
   * The fast path, for the body of a large file: a run of full 64-column lines
   * ending in LF, decoded by Node's native base64 decoder. That decoder is
   * lenient (it skips characters outside base64, stops at "=", and accepts
   * base64url's "-" and "_"), so the run is taken only when it is shaped
   * exactly so (an LF after every 64 bytes, no "-" or "_") and decodes to exactly
   * 48 bytes a line: a skipped or stray character makes the output short. Any
   * other run, and the lines around it (BEGIN, the last line, END, CRLF), go
   * through decodeLine, which also names the fault of a run the fast path refused.
   * Returns where it stopped.
   */
  private decodeFullLines(bytes: Buffer, position: number): number {
    while (!this.sawLastBodyLine) {
      let end = position;
      let lines = 0;
      while (lines < FAST_PATH_LINES && end + COLUMNS < bytes.length && bytes[end + COLUMNS] === LF && bytes[end] !== DASH) {
        end += FULL_LINE;
        lines++;
      }
      if (lines < 2) return position;
      const run = bytes.subarray(position, end);
      if (run.indexOf(DASH) >= 0 || run.indexOf(UNDERSCORE) >= 0) return position;
      if (this.outputLength + lines * FULL_LINE_DECODED > this.output.length) this.flush();
      const decoded = this.output.write(bytes.toString("latin1", position, end), this.outputLength, "base64");
      if (decoded !== lines * FULL_LINE_DECODED) return position; // decodeLine finds the fault and names its line
      this.outputLength += decoded;
      this.line += lines;
      position = end;
    }
    return position;
  }

  private decodeLine(bytes: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length === 0) throw this.malformed("an empty line");
    if (length > COLUMNS) throw this.malformed(`a line longer than ${COLUMNS} columns`);
    if (length % 4 !== 0) throw this.malformed("a line whose length is not a multiple of 4 (missing padding?)");
    if (this.outputLength + (length / 4) * 3 > this.output.length) this.flush();
    const output = this.output;
    let out = this.outputLength;
    for (let index = start; index < end; index += 4) {
      const a = BASE64_VALUES[bytes[index]!]!;
      const b = BASE64_VALUES[bytes[index + 1]!]!;
      const c = BASE64_VALUES[bytes[index + 2]!]!;
      const d = BASE64_VALUES[bytes[index + 3]!]!;
      // Values are below 64 and INVALID is not: the OR of four is below 64 only if all are valid.
      if ((a | b | c | d) < 64) {
        output[out++] = (a << 2) | (b >> 4);
        output[out++] = ((b & 0x0f) << 4) | (c >> 2);
        output[out++] = ((c & 0x03) << 6) | d;
        continue;
      }
      if (index + 4 !== end || bytes[index + 3] !== PAD || a > 63 || b > 63) throw this.malformed("a character outside base64, or padding before the end");
      if (bytes[index + 2] === PAD) {
        if ((b & 0x0f) !== 0) throw this.malformed("base64 is not canonical (padding bits are not zero)");
        output[out++] = (a << 2) | (b >> 4);
      } else {
        if (c > 63) throw this.malformed("a character outside base64");
        if ((c & 0x03) !== 0) throw this.malformed("base64 is not canonical (padding bits are not zero)");
        output[out++] = (a << 2) | (b >> 4);
        output[out++] = ((b & 0x0f) << 4) | (c >> 2);
      }
      this.sawLastBodyLine = true;
    }
    this.outputLength = out;
    if (length < COLUMNS) this.sawLastBodyLine = true;
  }

  /** Memory stays bounded: no line worth waiting for is longer than a body line. */
  private keepPartial(bytes: Buffer): void {
    // The END line may trail white space, as much as the file likes: keep END and what follows the space.
    if (this.phase === "body" && bytes.length > ARMOR_END.length && this.isEndLine(bytes, 0, bytes.length)) {
      this.partial = Buffer.from(ARMOR_END);
      return;
    }
    if (bytes.length > LONGEST_LINE) {
      this.line++;
      throw this.malformed(this.phase === "body" ? `a line longer than ${COLUMNS} columns` : "the first line is not -----BEGIN AGE ENCRYPTED FILE-----");
    }
    this.partial = bytes;
  }

  private flush(): void {
    if (this.outputLength === 0) return;
    this.sink(this.output.subarray(0, this.outputLength));
    this.outputLength = 0;
  }

  private malformed(why: string): AgebootError {
    return new AgebootError("MALFORMED", `malformed ASCII armor (line ${this.line}: ${why})`);
  }
}
