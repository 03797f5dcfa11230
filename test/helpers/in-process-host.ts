import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { pino } from "pino";
import { activate, type ActivationResult } from "../../src/activate.js";
import { headline, summarize } from "../../src/activation/report.js";
import type { Logger } from "../../src/log.js";
import { validateManifest } from "../../src/manifest/validate.js";
import { assertNoCanary, CANARY } from "./canary.js";

/**
 * A host in a temporary directory for the unit tier: no root, no external
 * tools. Its identity is a native age X25519 key made by age-encryption, its
 * secrets are encrypted in process, and activate() runs in process on a plain
 * directory (the development-only allowPlainDirectory: there is no mount here).
 * Every plaintext carries the canary, and every log line is checked for it.
 */
export class InProcessHost {
  readonly root = mkdtempSync(join(tmpdir(), "ageboot-unit-"));
  readonly secretsDir = join(this.root, "run/agenix");
  readonly mountPoint = join(this.root, "run/agenix.d");
  readonly identityPath = join(this.root, "identity.txt");
  readonly logLines: string[] = [];
  private recipient = "";
  private counter = 0;
  /** The running user: owner and group that exist on any machine, and that chown to itself needs no root. */
  readonly owner = String(process.getuid?.() ?? 0);
  readonly group = String(process.getgid?.() ?? 0);

  static async create(): Promise<InProcessHost> {
    const host = new InProcessHost();
    const identity = await generateX25519Identity();
    writeFileSync(host.identityPath, `${identity}\n`, { mode: 0o600 });
    host.recipient = await identityToRecipient(identity);
    return host;
  }

  /** Encrypt `value` (plus the canary) to the host's key; returns the .age path. */
  async encrypt(value: string): Promise<string> {
    const encrypter = new Encrypter();
    encrypter.addRecipient(this.recipient);
    const path = join(this.root, `secret-${this.counter++}.age`);
    writeFileSync(path, await encrypter.encrypt(`${value}\n${CANARY}`));
    return path;
  }

  /** A validated manifest for `secrets` (name -> settings), owned by the running user unless said otherwise. */
  manifest(secrets: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}) {
    const withOwners = Object.fromEntries(Object.entries(secrets).map(([name, settings]) => [name, { owner: this.owner, group: this.group, ...settings }]));
    const result = validateManifest({
      version: 1,
      secretsDir: this.secretsDir,
      secretsMountPoint: this.mountPoint,
      identityPaths: [this.identityPath],
      secrets: withOwners,
      ...extra,
    });
    if ("problems" in result) throw new Error(result.problems.join("\n"));
    return result.manifest;
  }

  /** Activate `secrets` (and `templates`, owned like the secrets by the running user unless said otherwise). */
  async activate(
    secrets: Record<string, Record<string, unknown>>,
    options: { dryRun?: boolean; templates?: Record<string, Record<string, unknown>> } = {},
  ): Promise<ActivationResult & { headline: string }> {
    const templates = Object.fromEntries(Object.entries(options.templates ?? {}).map(([name, settings]) => [name, { owner: this.owner, group: this.group, ...settings }]));
    const manifest = this.manifest(secrets, options.templates === undefined ? {} : { templates });
    // unitsVia "none": the unit tier runs no external tool (result.units still says which units a run would ask for).
    const result = await activate(manifest, {
      log: this.logger(),
      allowPlainDirectory: true,
      dryRun: options.dryRun ?? false,
      unitsVia: "none",
      acquireLock: this.acquireLock,
    });
    for (const line of this.logLines) assertNoCanary("a log line", line);
    return { ...result, headline: headline(result, summarize(result)) };
  }

  /**
   * A stand-in for the flock(1) lock (the unit tier runs no external tool, and a spawn was
   * a tenth of the tier's time): runs on this host wait for each other in this process.
   * The real lock is tested in the privileged tier ("runs at the same time are serialised").
   */
  private lockHeld: Promise<void> = Promise.resolve();
  private readonly acquireLock = async (): Promise<() => void> => {
    const previous = this.lockHeld;
    let release = () => {};
    this.lockHeld = new Promise((resolve) => (release = resolve));
    await previous;
    return release;
  };

  /** What users read at secretsDir/<name>, without the canary (which must be there). */
  read(name: string): string {
    const content = readFileSync(join(this.secretsDir, name), "utf8");
    const suffix = `\n${CANARY}`;
    if (!content.endsWith(suffix)) throw new Error(`${name}: not a complete test secret`);
    return content.slice(0, -suffix.length);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  private logger(): Logger {
    return pino({ level: "debug", base: null }, { write: (line: string) => void this.logLines.push(line) });
  }
}
