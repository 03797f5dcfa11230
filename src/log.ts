import { fstatSync, writeSync } from "node:fs";
import { pino, type Logger } from "pino";

export type { Logger };
export type LogFormat = "text" | "json";

/** sd-daemon(3) priorities for pino's numeric levels. */
function journalPriority(level: number): number {
  if (level >= 60) return 2; // fatal -> crit
  if (level >= 50) return 3; // error -> err
  if (level >= 40) return 4; // warn -> warning
  if (level >= 30) return 6; // info
  return 7; // debug, trace
}

const levelWords: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "fatal" };

/**
 * True when stderr is the journal's stream (systemd sets JOURNAL_STREAM to its
 * device:inode), so that "<N>" priority prefixes are understood, not shown.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const expected = env["JOURNAL_STREAM"];
  if (!expected) return false;
  try {
    const { dev, ino } = fstatSync(2);
    return expected === `${dev}:${ino}`;
  } catch {
    return false;
  }
}

/** Fields pino adds that a human line does not need. */
const omittedFields = new Set(["level", "time", "pid", "hostname", "msg", "name"]);

function formatValue(value: unknown): string {
  const text = typeof value === "string" ? value : Array.isArray(value) ? value.join(",") : JSON.stringify(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

/**
 * Control characters (C0, DEL, and the Unicode line and paragraph separators)
 * written as escapes: a file or secret name that holds "\n<6>..." must not
 * forge a journal line or a terminal escape sequence (names come from hostile
 * places: files on the mount, manifests, directories users write to).
 */
export function escapeControlCharacters(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (character) => {
    const code = character.charCodeAt(0);
    if (character === "\n") return "\\n";
    if (character === "\t") return "\\t";
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

/** One readable line: "<4>message key=value" under the journal, "ageboot: warning: message key=value" on a terminal. */
export function formatTextLine(record: Record<string, unknown>, journal: boolean): string {
  const level = Number(record["level"] ?? 30);
  const fields = Object.entries(record)
    .filter(([key]) => !omittedFields.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  // Every message and field escaped: one record is one line, whatever names it holds.
  const text = escapeControlCharacters([String(record["msg"] ?? ""), ...fields].join(" "));
  return journal ? `<${journalPriority(level)}>${text}\n` : `ageboot: ${levelWords[level] ?? "log"}: ${text}\n`;
}

/** DEL, U+2028 and U+2029, which JSON allows raw, as \uXXXX escapes (the line's trailing newline is pino's own). */
function escapeJsonExtras(line: string): string {
  return line.replace(/[\u007f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The logger every command uses: pino, writing synchronously to stderr (a boot
 * unit may exit right after its last line), as JSON on request or as readable
 * lines otherwise. Nothing passed to it may contain secret bytes.
 */
export function createLogger(options: { format?: LogFormat; level?: string } = {}): Logger {
  const format = options.format ?? "text";
  const level = options.level ?? "info";
  if (format === "json") {
    // JSON escapes C0 already; DEL and U+2028/2029 are escaped too, as the text lines do.
    return pino({ level, base: null }, { write: (line: string) => writeWhole(escapeJsonExtras(line), false) });
  }
  const journal = stderrIsJournal();
  return pino({ level, base: null, timestamp: false }, { write: (line: string) => writeWhole(formatTextLine(JSON.parse(line) as Record<string, unknown>, journal), true) });
}

/** Longest text log line written: the rest is cut, said in the line (a crafted file's keys are quoted in messages); a JSON line is never cut. */
const MAX_LINE_BYTES = 16 * 1024;

/**
 * Write one line to standard error whole. Node may have made fd 2
 * non-blocking (a pipe): a long line is then written in parts, and a reader
 * that is slow makes writeSync fail with EAGAIN, which used to end the run
 * with an uncaught error and lose the summary (outside attack). Parts are
 * written until done, waiting a little on EAGAIN, for at most a few seconds.
 */
export function writeWhole(text: string, cut: boolean): void {
  let bytes = Buffer.from(text);
  if (cut && bytes.length > MAX_LINE_BYTES) bytes = Buffer.concat([bytes.subarray(0, MAX_LINE_BYTES - 40), Buffer.from(` … (${bytes.length} bytes, cut)\n`)]);
  let offset = 0;
  const deadline = Date.now() + 5_000;
  while (offset < bytes.length) {
    try {
      offset += writeSync(2, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || Date.now() > deadline) return;
      Atomics.wait(SLEEPER, 0, 0, 5);
    }
  }
}
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
