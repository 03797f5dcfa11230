// The NixOS module's systemd activation (age.useSystemdActivation) booted and
// switched under a real systemd (systemd-nspawn --boot on the Debian root of
// boot.test.ts): two consumers with Requires= on the module's unit (one through
// agenix's name for it, agenix-install-secrets.service), each restarted by its
// own secret's restartUnits. A switch must re-decrypt without restarting the
// units that require ageboot.service: only the consumer whose secret changed
// restarts, through restartUnits.
//
// The units are the module's own: evaluated with nixpkgs' lib
// (test/fixtures/nixos/eval.nix, configuration `switch`) and rendered into unit
// files as NixOS renders systemd.services (nixos/lib/systemd-lib.nix: list
// dependencies space-joined, serviceConfig and unitConfig one line per value,
// restartIfChanged = false as X-RestartIfChanged=false in [Service]
// (nixos/doc/manual/development/unit-handling.section.md), wantedBy/requiredBy
// as .wants/.requires links, aliases as links to the unit). What differs from
// NixOS: the store paths (the ageboot package is dist/ bound at /usr/lib/ageboot,
// each configuration's manifest is /etc/ageboot/manifest-N.json with the
// module's manifest, its `file`s pointed at age files made for this host),
// no Environment=PATH (Debian's default PATH has util-linux, systemctl and
// getent), and sysinit-reactivation.target, which Debian lacks, is a plain
// target as NixOS defines it.
//
// switch-to-configuration cannot run here (no NixOS); test/system/check-switch.sh
// does what it does for these units, as read in NixOS/nixpkgs
// pkgs/by-name/sw/switch-to-configuration-ng/src/src/main.rs at
// 00401fd7e581bc669e0cc61c088427d336031312: changed active units are skipped
// (X-RestartIfChanged=false) or stopped and later started, daemon-reload,
// `systemctl restart sysinit-reactivation.target` (waited for), then the starts.
// A configuration's units differ from the previous one's only in the
// manifest's path, as a new store path for a changed manifest makes them.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertNoCanary } from "../helpers/canary.js";
import { TestHost } from "../helpers/host.js";
import { BootRoot } from "../helpers/nspawn-boot.js";
import { nixosUnitFile } from "../helpers/nixos-unit-file.js";
import { fixtureEvaluator, nixpkgsLibFor } from "../helpers/nixpkgs-lib.js";
import { repoRoot } from "../helpers/paths.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { ageEncrypt, sshKeygen } from "../helpers/tools.js";

const nixpkgsLib = nixpkgsLibFor("the NixOS switch boot test");

interface UnitDefinition {
  description: string;
  wantedBy: string[];
  requiredBy: string[];
  before: string[];
  after: string[];
  wants: string[];
  requires: string[];
  partOf: string[];
  conflicts: string[];
  aliases: string[];
  restartIfChanged: boolean;
  unitConfig: Record<string, unknown>;
  serviceConfig: Record<string, unknown>;
}
interface Facts {
  failedAssertions: string[];
  manifest: { secrets: Record<string, { file: string }> } & Record<string, unknown>;
  unitDefinitions: Record<string, UnitDefinition>;
}

const evaluate = fixtureEvaluator<Facts>(join(repoRoot, "test/fixtures/nixos/eval.nix"), nixpkgsLib);
const makeBootRoot = BootRoot.perFile("ageboot-switch");
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

beforeAll(requirePrivateNamespace);

describe("systemd activation, booted and switched (NIXPKGS_LIB)", () => {
  it("a switch restarts only the consumer whose secret changed, never the units that require ageboot.service", () => {
    const facts = evaluate("switch");
    expect(facts.failedAssertions).toEqual([]);
    const units = facts.unitDefinitions;
    expect(Object.keys(units).sort()).toEqual(["ageboot", "ageboot-refresh"]);

    const bootRoot = makeBootRoot();
    const put = bootRoot.put.bind(bootRoot);
    const persist = join(bootRoot.work, "persist");
    mkdirSync(join(persist, "etc/ssh"), { recursive: true });
    const hostKey = sshKeygen(join(persist, "etc/ssh"), "ssh_host_ed25519_key", "ed25519");

    // The secrets of each configuration: 2 rotates b, 3 is 2 again, 4 rotates a.
    const values = { a1: TestHost.withCanary("a-1"), a2: TestHost.withCanary("a-2"), b1: TestHost.withCanary("b-1"), b2: TestHost.withCanary("b-2") };
    for (const [name, value] of Object.entries(values)) put(`etc/ageboot/secrets/${name}.age`, ageEncrypt(value, [["-R", `${hostKey}.pub`]]));
    const configurations: Record<number, { manifest: number; a: keyof typeof values; b: keyof typeof values }> = {
      1: { manifest: 1, a: "a1", b: "b1" },
      2: { manifest: 2, a: "a1", b: "b2" },
      3: { manifest: 2, a: "a1", b: "b2" },
      4: { manifest: 4, a: "a2", b: "b2" },
    };
    for (const [number, configuration] of Object.entries(configurations)) {
      const manifestPath = `/etc/ageboot/manifest-${configuration.manifest}.json`;
      const manifest = {
        ...facts.manifest,
        secrets: {
          a: { ...facts.manifest.secrets["a"], file: `/etc/ageboot/secrets/${configuration.a}.age` },
          b: { ...facts.manifest.secrets["b"], file: `/etc/ageboot/secrets/${configuration.b}.age` },
        },
      };
      put(manifestPath.slice(1), JSON.stringify(manifest));
      for (const [name, unit] of Object.entries(units)) {
        const execStart = String(unit.serviceConfig["ExecStart"])
          .replace(/^\/nix\/store\/[^ ]*-ageboot\/bin\/ageboot /, "/usr/lib/ageboot/ageboot ")
          .replace(/\/nix\/store\/\S+-ageboot-manifest\.json$/, manifestPath);
        expect(execStart).toBe(`/usr/lib/ageboot/ageboot activate --manifest ${manifestPath}`);
        put(`etc/ageboot/configuration-${number}/${name}.service`, nixosUnitFile(unit, { ExecStart: execStart }));
      }
    }

    // Configuration 1 is the one booted: its units installed, with their links.
    const system = join(bootRoot.root, "etc/systemd/system");
    for (const [name, unit] of Object.entries(units)) {
      put(`etc/systemd/system/${name}.service`, readFileSync(join(bootRoot.root, `etc/ageboot/configuration-1/${name}.service`)));
      for (const target of unit.wantedBy) bootRoot.enable(`${name}.service`, target);
      for (const target of unit.requiredBy) {
        mkdirSync(join(system, `${target}.requires`), { recursive: true });
        symlinkSync(`/etc/systemd/system/${name}.service`, join(system, `${target}.requires`, `${name}.service`));
      }
      for (const alias of unit.aliases) symlinkSync(`${name}.service`, join(system, alias));
    }
    put("etc/systemd/system/sysinit-reactivation.target", "[Unit]\nDescription=Reactivate sysinit units\n");

    // The consumers: each requires the module's unit (a through agenix's name for it) and
    // records, at each start, the value it read.
    const consumer = (requires: string, secret: string) =>
      `[Unit]\nRequires=${requires}\nAfter=${requires}\n[Service]\nExecStartPre=/bin/sh -c 'sha256sum < /run/agenix/${secret} | cut -d" " -f1 >> /results/${secret}.txt'\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n`;
    put("etc/systemd/system/consumer-a.service", consumer("agenix-install-secrets.service", "a"));
    put("etc/systemd/system/consumer-b.service", consumer("ageboot.service", "b"));
    for (const unit of ["consumer-a.service", "consumer-b.service"]) bootRoot.enable(unit, "multi-user.target");
    put("usr/local/bin/check", readFileSync(join(repoRoot, "test/system/check-switch.sh")), 0o755);
    put(
      "etc/systemd/system/checker.service",
      "[Unit]\nAfter=multi-user.target consumer-a.service consumer-b.service\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/check\n[Install]\nWantedBy=multi-user.target\n",
    );
    bootRoot.enable("checker.service", "multi-user.target");
    mkdirSync(join(bootRoot.root, "usr/lib/ageboot"), { recursive: true });

    const { result, console: output } = bootRoot.boot([`${persist}:/persist`]);
    const read = (value: keyof typeof values) => sha256(values[value]);

    // Boot: ageboot.service decrypted, is also agenix-install-secrets.service (the consumer that
    // requires that name started), and the refresh unit did not run.
    expect(result["boot_ageboot"]).toBe("active");
    expect(result["boot_names"]!.split(" ").sort()).toEqual(["ageboot.service", "agenix-install-secrets.service"]);
    expect(result["boot_alias_active"]).toBe("active");
    expect(result["boot_refresh_started"]).toBe("0");
    expect(result["boot_generation"]).toBe("/run/agenix.d/1");
    expect([result["boot_a_starts"], result["boot_b_starts"]]).toEqual(["1", "1"]);
    expect([result["boot_a_read"], result["boot_b_read"]]).toEqual([read("a1"), read("b1")]);

    // Each switch: ageboot.service skipped as switch-to-configuration skips it, nothing stopped,
    // the refresh unit ran once (one new generation; the switch's closing start of the active
    // sysinit-reactivation.target runs nothing more), only that generation kept (agenix's pruning).
    for (const [number, generation] of [
      [2, 2],
      [3, 3],
      [4, 4],
    ] as const) {
      expect(result[`switch_${number}_rc`]).toBe("0");
      expect(result[`switch_${number}_stopped`]).toBe("");
      expect(result[`switch_${number}_refresh`]).toBe("success active");
      expect(result[`switch_${number}_generation`]).toBe(`/run/agenix.d/${generation}`);
      expect(result[`switch_${number}_generations`]).toBe(`${generation} `);
    }
    const skipped = (number: number) => result[`switch_${number}_skipped`]!.split(" ").filter(Boolean).sort();
    expect(skipped(2)).toEqual(["ageboot.service"]);
    expect(skipped(3)).toEqual([]); // the same units: nothing changed
    // The refresh unit (active from the first switch on) is skipped too when its file changes.
    expect(skipped(4)).toEqual(["ageboot-refresh.service", "ageboot.service"]);
    // b rotated: consumer-b restarted (restartUnits) and read it; consumer-a, which requires the unit too, untouched.
    expect([result["switch_2_a_starts"], result["switch_2_b_starts"]]).toEqual(["1", "2"]);
    expect(result["switch_2_b_read"]).toBe(read("b2"));
    // Nothing changed: nobody restarted.
    expect([result["switch_3_a_starts"], result["switch_3_b_starts"]]).toEqual(["1", "2"]);
    // a rotated: only consumer-a.
    expect([result["switch_4_a_starts"], result["switch_4_b_starts"]]).toEqual(["2", "2"]);
    expect(result["switch_4_a_read"]).toBe(read("a2"));
    // The boot unit itself never restarted, and is still active.
    expect(result["ageboot_restarted"]).toBe("no");
    expect(result["ageboot_active"]).toBe("active");
    expect(result["settle"]).toBeUndefined();

    const journal = readFileSync(join(bootRoot.results, "journal.txt"), "utf8");
    expect(journal).toContain("restart requested through systemctl: consumer-b.service");
    assertNoCanary("the journal of the booted system", journal);
    assertNoCanary("the console of the booted system", output);
  }, 300_000);
});
