/**
 * A systemd.services entry, as the NixOS module evaluates it, written as a
 * unit file the way NixOS's systemd-lib writes one: the dependency lists
 * space-separated on one line, other lists as repeated lines, booleans as
 * true/false; `X-RestartIfChanged=false` where restartIfChanged is off (what
 * switch-to-configuration reads). For the system tests that boot the module's
 * units under systemd-nspawn (nixos-shaped, nixos-switch); what they leave out
 * of NixOS's unit files is said at their top.
 */
export interface NixosUnit {
  description: string;
  before: string[];
  after: string[];
  wants: string[];
  requires: string[];
  partOf?: string[];
  conflicts?: string[];
  restartIfChanged?: boolean;
  unitConfig: Record<string, unknown>;
  serviceConfig: Record<string, unknown>;
}

/** `extraService` (ExecStart, Environment=PATH...) is added to, and wins over, the evaluated serviceConfig. */
export function nixosUnitFile(unit: NixosUnit, extraService: Record<string, unknown> = {}): string {
  const lines = (settings: Record<string, unknown>) =>
    Object.entries(settings).flatMap(([key, setting]) => (Array.isArray(setting) ? setting : [setting]).map((item) => `${key}=${String(item)}`));
  const dependencies = Object.entries({
    Requires: unit.requires,
    Wants: unit.wants,
    PartOf: unit.partOf ?? [],
    After: unit.after,
    Before: unit.before,
    Conflicts: unit.conflicts ?? [],
  })
    .filter(([, names]) => names.length > 0)
    .map(([key, names]) => `${key}=${names.join(" ")}`);
  return [
    "[Unit]",
    `Description=${unit.description}`,
    ...dependencies,
    ...lines(unit.unitConfig),
    "",
    "[Service]",
    ...(unit.restartIfChanged === false ? ["X-RestartIfChanged=false"] : []),
    ...lines({ ...unit.serviceConfig, ...extraService }),
    "",
  ].join("\n");
}
