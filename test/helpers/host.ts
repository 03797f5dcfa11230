import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ageEncrypt, cliPath, sshKeygen, tempDir } from "./tools.js";

export interface SecretSettings {
  file: string;
  path?: string;
  owner?: string | number;
  group?: string | number;
  mode?: string;
  symlink?: boolean;
}

/**
 * A pretend host inside a temporary directory: a host key made by ssh-keygen,
 * secretsDir and secretsMountPoint below the directory, secrets encrypted with
 * the real age, and the real CLI to activate them.
 */
export class TestHost {
  readonly root: string;
  readonly cleanup: () => void;
  readonly key: string;
  readonly secretsDir: string;
  readonly mountPoint: string;
  readonly manifestPath: string;
  keepGenerations = 1;
  private fileCounter = 0;

  constructor() {
    ({ dir: this.root, cleanup: this.cleanup } = tempDir("ageboot-host-"));
    mkdirSync(join(this.root, "etc/ssh"), { recursive: true });
    this.key = sshKeygen(join(this.root, "etc/ssh"), "ssh_host_ed25519_key", "ed25519");
    this.secretsDir = join(this.root, "run/agenix");
    this.mountPoint = join(this.root, "run/agenix.d");
    this.manifestPath = join(this.root, "manifest.json");
  }

  /** Encrypt `plaintext` to the host key with the real age; returns the .age path. */
  encrypt(plaintext: string | Buffer, recipientPublicKey = `${this.key}.pub`): string {
    const path = join(this.root, `secret-${this.fileCounter++}.age`);
    writeFileSync(path, ageEncrypt(plaintext, [["-R", recipientPublicKey]]));
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
    return this.manifestPath;
  }

  activate(...args: string[]): SpawnSyncReturns<string> {
    return spawnSync(process.execPath, [cliPath, "activate", "--manifest", this.manifestPath, ...args], {
      encoding: "utf8",
      env: { ...process.env, JOURNAL_STREAM: "", NOTIFY_SOCKET: "" },
    });
  }

  read(name: string): string {
    return readFileSync(join(this.secretsDir, name), "utf8");
  }
}
