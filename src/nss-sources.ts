import { readdirSync, readFileSync } from "node:fs";

/**
 * Where nss-systemd finds users and groups beyond the root and nobody it
 * makes up itself: the varlink services of systemd's userdb (the service
 * manager's dynamic users, systemd-homed, ...) and userdb's drop-in records.
 * See systemd's nss-systemd(8) and userdb(1).
 */
export const SYSTEMD_USERDB_PLACES = ["/run/systemd/userdb", "/etc/userdb", "/run/userdb", "/run/host/userdb", "/usr/local/lib/userdb", "/usr/lib/userdb"] as const;
/** The names nss-systemd answers for without any userdb record. */
const SYSTEMD_MADE_UP_NAMES = new Set(["root", "nobody"]);

export interface NssPlaces {
  readonly nsswitch: string;
  readonly systemdUserdb: readonly string[];
}
const HOST_PLACES: NssPlaces = { nsswitch: "/etc/nsswitch.conf", systemdUserdb: SYSTEMD_USERDB_PLACES };

/**
 * Whether NSS could answer for a user or group named `name` that /etc/passwd
 * or /etc/group (already read) lacks, so that asking it (a getent(1) child,
 * a fork of this whole process) can tell us anything. No when nsswitch.conf
 * lists for that database only "files", or "files" and "systemd" on a host
 * where systemd's userdb has no record and no service and `name` is not one
 * that nss-systemd makes up. Anything else, or anything unexpected (no
 * nsswitch.conf, no line or two lines for the database, a place that cannot
 * be listed), is a yes: the lookup then runs as before. The answer only ever
 * saves a child; a yes costs one.
 */
export function nssMayKnowMore(database: "passwd" | "group", name: string, places: NssPlaces = HOST_PLACES): boolean {
  let text: string;
  try {
    text = readFileSync(places.nsswitch, "utf8");
  } catch {
    return true;
  }
  const sources = sourcesOf(text, database);
  if (sources === null) return true;
  return sources.some((source) => source !== "files" && (source !== "systemd" || systemdMayKnow(name, places.systemdUserdb)));
}

/** The sources named on the database's line, without their [STATUS=action] items; null unless there is exactly one such line. */
function sourcesOf(text: string, database: string): string[] | null {
  const lines = text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line.startsWith(`${database}:`) || new RegExp(`^${database}\\s+:`).test(line));
  if (lines.length !== 1) return null;
  const items = lines[0]!.slice(lines[0]!.indexOf(":") + 1).replace(/\[[^\]]*\]/g, " ");
  if (items.includes("[") || items.includes("]")) return null;
  const sources = items.split(/\s+/).filter(Boolean);
  return sources.length > 0 ? sources : null;
}

function systemdMayKnow(name: string, places: readonly string[]): boolean {
  if (SYSTEMD_MADE_UP_NAMES.has(name)) return true;
  for (const place of places) {
    try {
      if (readdirSync(place).length > 0) return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return true;
    }
  }
  return false;
}
