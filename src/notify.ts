import notify from "systemd-notify";
import type { Logger } from "./log.js";

/**
 * Progress for `systemctl status` (sd_notify STATUS=), through the
 * systemd-notify package. Only under systemd (NOTIFY_SOCKET set); a failure to
 * notify is logged at debug level and never fails the run. The package runs
 * systemd-notify(1) as a child, so the unit needs NotifyAccess=all.
 */
export function statusNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): (status: string) => Promise<void> {
  if (!env["NOTIFY_SOCKET"]) return async () => {};
  return async (status) => {
    try {
      await notify({ status });
    } catch (error) {
      log.debug(`sd_notify STATUS failed: ${String(error)}`);
    }
  };
}
