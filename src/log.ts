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

/** One readable line: "<4>message key=value" under the journal, "ageboot: warning: message key=value" on a terminal. */
export function formatTextLine(record: Record<string, unknown>, journal: boolean): string {
  const level = Number(record["level"] ?? 30);
  const fields = Object.entries(record)
    .filter(([key]) => !omittedFields.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  const text = [String(record["msg"] ?? ""), ...fields].join(" ");
  return journal ? `<${journalPriority(level)}>${text}\n` : `ageboot: ${levelWords[level] ?? "log"}: ${text}\n`;
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
    return pino({ level, base: null }, { write: (line: string) => void writeSync(2, line) });
  }
  const journal = stderrIsJournal();
  return pino({ level, base: null, timestamp: false }, { write: (line: string) => void writeSync(2, formatTextLine(JSON.parse(line) as Record<string, unknown>, journal)) });
}
