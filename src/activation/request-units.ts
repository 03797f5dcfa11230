import { execFile } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { describeCause } from "../errors.js";
import type { Logger } from "../log.js";
import type { UnitRequests } from "./units-step.js";

/**
 * How restarts and reloads reach systemd:
 * - `systemctl`: `systemctl --no-block try-restart` / `try-reload-or-restart`.
 *   Queued, not waited for: ageboot may itself run inside a systemd job (its
 *   unit at boot, or a switch's transaction), and waiting on a job queued
 *   behind that one would deadlock. `try-` leaves a unit that is not running
 *   alone, so a secret never starts a service that was stopped on purpose.
 *   systemctl rather than D-Bus from Node: no D-Bus client to add, and the
 *   process is spawned only on runs that changed something a unit reads.
 * - `nixos-activation`: under NixOS's classic activation (switch-to-configuration
 *   runs the activation script with NIXOS_ACTION=switch or test), the unit names
 *   are appended to /run/nixos/activation-restart-list and activation-reload-list,
 *   which switch-to-configuration reads after the activation script, so the units
 *   restart as part of the same switch, once, in its order (docs/lifecycle.md).
 *   Under `dry-activate` (with --dry-run) the dry-activation lists, which it
 *   only prints. Without NIXOS_ACTION (the activation script run by hand, or
 *   at boot) nobody reads the lists: systemctl is asked instead.
 * - `none`: nothing is asked; the report still says which units would be.
 */
export const UNITS_VIA = ["systemctl", "nixos-activation", "none"] as const;
export type UnitsVia = (typeof UNITS_VIA)[number];

const NIXOS_LISTS = {
  run: { restart: "/run/nixos/activation-restart-list", reload: "/run/nixos/activation-reload-list" },
  dry: { restart: "/run/nixos/dry-activation-restart-list", reload: "/run/nixos/dry-activation-reload-list" },
} as const;

/** systemctl talks to PID 1 over D-Bus; a hung bus must not hang the activation. */
const SYSTEMCTL_TIMEOUT_MS = 30_000;

/** Ask for the restarts and reloads; every problem is a warning (a unit that does not exist must not fail the secrets). Returns how they were asked for, or null. */
export async function requestUnits(requests: UnitRequests, via: UnitsVia, dryRun: boolean, log: Logger): Promise<string | null> {
  if (requests.restart.length === 0 && requests.reload.length === 0) return null;
  if (via === "none") return null;
  const action = process.env["NIXOS_ACTION"];
  if (via === "nixos-activation" && (action === "switch" || action === "test" || action === "dry-activate")) {
    if (dryRun !== (action === "dry-activate")) return null; // a dry run during a real switch (or the reverse) asks nothing
    return appendToNixosLists(requests, action === "dry-activate" ? NIXOS_LISTS.dry : NIXOS_LISTS.run, log);
  }
  if (dryRun) return null;
  return askSystemctl(requests, log);
}

function appendToNixosLists(requests: UnitRequests, lists: { restart: string; reload: string }, log: Logger): string | null {
  try {
    mkdirSync("/run/nixos", { recursive: true, mode: 0o755 });
  } catch (error) {
    log.warn(`/run/nixos: cannot create (${describeCause(error)}); units not restarted: ${[...requests.restart, ...requests.reload].join(", ")}`);
    return null;
  }
  let written = 0;
  for (const [units, list] of [
    [requests.restart, lists.restart],
    [requests.reload, lists.reload],
  ] as const) {
    if (units.length === 0) continue;
    try {
      // Appended, never through a symlink; switch-to-configuration ignores duplicates.
      const fd = openSync(list, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
      try {
        const bytes = Buffer.from(units.map((unit) => `${unit}\n`).join(""));
        for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
      } finally {
        closeSync(fd);
      }
      written++;
    } catch (error) {
      log.warn(`${list}: cannot append (${describeCause(error)}); not requested: ${units.join(", ")}`);
    }
  }
  return written > 0 ? "switch-to-configuration" : null;
}

async function askSystemctl(requests: UnitRequests, log: Logger): Promise<string | null> {
  if (!existsSync("/run/systemd/system")) {
    log.warn(`systemd is not running here; not restarted or reloaded: ${[...requests.restart, ...requests.reload].join(", ")}`);
    return null;
  }
  let asked = false;
  for (const [verb, units] of [
    ["try-restart", requests.restart],
    ["try-reload-or-restart", requests.reload],
  ] as const) {
    // One call per unit: one unit that does not exist fails only its own call (a
    // warning naming it), and a retry never queues a second restart of another.
    for (const unit of units) {
      const failure = await systemctl(verb, [unit]);
      if (failure === null) asked = true;
      else log.warn(`${unit}: systemctl ${verb} failed: ${failure}`);
    }
  }
  return asked ? "systemctl" : null;
}

/** Run one systemctl call; null on success, else what went wrong, in one line. */
function systemctl(verb: string, units: readonly string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("systemctl", ["--no-block", "--no-ask-password", verb, "--", ...units], { timeout: SYSTEMCTL_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (error, _stdout, stderr) => {
      if (error === null) resolve(null);
      else resolve(stderr.trim().split("\n").at(-1) || describeCause(error));
    });
  });
}
