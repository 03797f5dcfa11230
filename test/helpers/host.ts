import type { SpawnSyncReturns } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runAgeboot, type AgebootRunOptions } from "./ageboot-process.js";
import { assertNoPlaintextOnDisk, CANARY } from "./canary.js";
import { tempDir } from "./temp-dir.js";
import { ageEncrypt, sshKeygen } from "./tools.js";

export interface SecretSettings {
  file: string;
  format?: string;
  key?: string;
  path?: string;
  owner?: string | number;
  group?: string | number;
  mode?: string;
  symlink?: boolean;
  restartUnits?: string[];
  reloadUnits?: string[];
}

/**
 * A pretend host inside a temporary directory: a host key made by ssh-keygen,
 * secretsDir and secretsMountPoint below the directory, secrets encrypted with
 * the real age, and the real CLI to activate them. Every plaintext carries the
 * test canary (read() checks and strips it), and everything ageboot prints is
 * checked for it. Tests get hosts from test/helpers/host-lifecycle.ts, which
 * unmounts and removes them after the test.
 */
export class TestHost {
  readonly root: string;
  readonly cleanup: () => void;
  readonly key: string;
  readonly secretsDir: string;
  readonly mountPoint: string;
  readonly manifestPath: string;
  keepGenerations: number | "all" = 1;
  private fileCounter = 0;
  /** Custom paths that the manifest asks to be copies: the only plaintext allowed on disk. */
  private copies: string[] = [];

  constructor() {
    ({ dir: this.root, cleanup: this.cleanup } = tempDir("ageboot-host-"));
    mkdirSync(join(this.root, "etc/ssh"), { recursive: true });
    this.key = sshKeygen(join(this.root, "etc/ssh"), "ssh_host_ed25519_key", "ed25519");
    this.secretsDir = join(this.root, "run/agenix");
    this.mountPoint = join(this.root, "run/agenix.d");
    this.manifestPath = join(this.root, "manifest.json");
  }

  /** What a secret holds once `value` is encrypted by encrypt(): the value and the canary. */
  static withCanary(value: string | Buffer): Buffer {
    return Buffer.concat([Buffer.from(value), Buffer.from(`\n${CANARY}`)]);
  }

  /** Encrypt `plaintext` (plus the canary) to the host key with the real age; returns the .age path. */
  encrypt(plaintext: string | Buffer, recipientPublicKey = `${this.key}.pub`): string {
    const path = join(this.root, `secret-${this.fileCounter++}.age`);
    writeFileSync(path, ageEncrypt(TestHost.withCanary(plaintext), [["-R", recipientPublicKey]]));
    return path;
  }

  writeManifest(secrets: Record<string, SecretSettings>, extra: Record<string, unknown> = {}): string {
    const manifest = {
      version: 1,
      secretsDir: this.secretsDir,
      secretsMountPoint: this.mountPoint,
      identityPaths: [join(this.root, "persist/etc/ssh/ssh_host_ed25519_key"), this.key],
      keepGenerations: this.keepGenerations,
      secrets,
      ...extra,
    };
    writeFileSync(this.manifestPath, JSON.stringify(manifest, null, 2));
    const templates = Object.values((extra["templates"] ?? {}) as Record<string, { symlink?: boolean; path?: string }>);
    for (const settings of [...Object.values(secrets), ...templates]) if (settings.symlink === false && settings.path) this.copies.push(settings.path);
    return this.manifestPath;
  }

  activate(...args: string[]): SpawnSyncReturns<string> {
    return this.activateWith({}, ...args);
  }

  /** activate, with options for the process (its environment, the launcher). */
  activateWith(options: AgebootRunOptions, ...args: string[]): SpawnSyncReturns<string> {
    return runAgeboot(["activate", "--manifest", this.manifestPath, ...args], options);
  }

  /** The value of a secret as users read it, without the canary (which must be there). */
  read(name: string): string {
    return TestHost.stripCanary(readFileSync(join(this.secretsDir, name), "utf8"), name);
  }

  static stripCanary(content: string, what: string): string {
    const suffix = `\n${CANARY}`;
    if (!content.endsWith(suffix)) throw new Error(`${what}: content is not a complete test secret`);
    return content.slice(0, -suffix.length);
  }

  /** Plaintext only on memory-backed mounts (the secrets mount, or others a test made), or at a custom path that asked for a copy. */
  assertNoPlaintextOnDisk(memoryMounts: readonly string[] = [this.mountPoint]): void {
    assertNoPlaintextOnDisk(this.root, memoryMounts, this.copies);
  }
}
