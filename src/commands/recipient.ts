import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import sshpk from "sshpk";
import { AgebootError, describeCause } from "../errors.js";
import { ageRecipientOfEd25519 } from "../identities/ssh-to-age.js";
import type { Logger } from "../log.js";

export const recipientHelp = `Usage: ageboot recipient [-i KEY ...] [FILE.pub ...]

Print the age1... recipient of each ed25519 SSH key, one per line: what
ssh-to-age prints, and what sops-nix hosts are encrypted to. Put it in
.sops.yaml and run "sops updatekeys" to add a host.

Keys:
  FILE.pub             an OpenSSH public key file ("ssh-ed25519 AAAA..."),
                       e.g. /etc/ssh/ssh_host_ed25519_key.pub; "-" reads
                       standard input
  -i, --identity KEY   an ed25519 private key file (only its public half is used)
  -h, --help           show this help

Only ed25519 keys have an age1... recipient; for RSA keys, sops (>= 3.10)
takes the "ssh-rsa AAAA..." line itself as a recipient.`;

export async function runRecipient(args: string[], _log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      identity: { type: "string", short: "i", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${recipientHelp}\n`);
    return;
  }
  const privateKeys = values.identity ?? [];
  if (privateKeys.length === 0 && positionals.length === 0) throw new AgebootError("USAGE", `recipient needs a FILE.pub or -i KEY\n\n${recipientHelp}`);
  const lines: string[] = [];
  for (const path of privateKeys) lines.push(recipientOf(path, true));
  for (const path of positionals) lines.push(recipientOf(path, false));
  process.stdout.write(`${lines.join("\n")}\n`);
}

function recipientOf(path: string, isPrivate: boolean): string {
  let text: Buffer;
  try {
    text = readFileSync(path === "-" && !isPrivate ? 0 : path);
  } catch (error) {
    throw new AgebootError("IO", `${path}: cannot read (${describeCause(error)})`);
  }
  let key: sshpk.Key;
  try {
    key = isPrivate ? sshpk.parsePrivateKey(text, "auto", { filename: path }).toPublic() : sshpk.parseKey(text, "auto", { filename: path });
  } catch (error) {
    // sshpk's messages name formats, never key bytes; a passphrase-protected key says so.
    throw new AgebootError("USAGE", `${path}: not an OpenSSH ${isPrivate ? "private" : "public"} key (${describeCause(error).split("\n")[0]})`);
  } finally {
    text.fill(0);
  }
  if (key.type !== "ed25519")
    throw new AgebootError("USAGE", `${path}: a ${key.type} key has no age1... recipient; only ed25519 keys do (sops >= 3.10 takes an ssh-rsa public key line itself)`);
  const parts = key.part as unknown as Record<string, { data: Buffer } | undefined>;
  const point = parts["A"]?.data;
  if (point?.length !== 32) throw new AgebootError("USAGE", `${path}: the ed25519 key has the wrong size`);
  return ageRecipientOfEd25519(point);
}
