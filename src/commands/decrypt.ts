import { parseArgs } from "node:util";
import { AgebootError } from "../errors.js";
import { requireIdentities } from "../identities/require.js";
import type { Logger } from "../log.js";
import { openAgeFile } from "../sources/age.js";
import { writeOutputFile } from "./output-file.js";

export const decryptHelp = `Usage: ageboot decrypt -i KEY [-i KEY ...] [-o OUTPUT] [--] FILE

Decrypt one age file (binary or armored) with the given identities, as the
activation does, to debug a host. FILE "-" reads standard input.

Identities (-i, in order): OpenSSH ed25519 and RSA private keys (OpenSSH, PEM,
PKCS#8), and age identity files (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1...).
An ed25519 key also decrypts files encrypted to its age1... recipient
(the ssh-to-age conversion used by sops-nix). Unusable keys are reported and skipped.

Options:
  -i, --identity KEY   identity file to try (repeatable)
  -o, --output OUTPUT  write the plaintext here instead of standard output:
                       a new file (mode 0600) that replaces OUTPUT by rename,
                       so an existing OUTPUT is never written through
  -h, --help           show this help

Use "--" before a file name that starts with "-".`;

export async function runDecrypt(args: string[], log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      identity: { type: "string", short: "i", multiple: true },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${decryptHelp}\n`);
    return;
  }
  if (positionals.length !== 1) throw new AgebootError("USAGE", `decrypt takes exactly one FILE, got ${positionals.length}\n\n${decryptHelp}`);
  if (!values.identity?.length) throw new AgebootError("USAGE", `decrypt needs at least one -i KEY\n\n${decryptHelp}`);
  const file = positionals[0]!;

  const { identities } = await requireIdentities(values.identity, log);
  // The header is verified before any output exists, so a wrong key creates no file.
  const plaintext = await openAgeFile(file === "-" ? { stdin: true } : { file }, identities);
  if (values.output === undefined) {
    await plaintext.pipeTo(writeToStdout);
    return;
  }
  try {
    await writeOutputFile(values.output, (output) => plaintext.pipeTo((chunk) => output.write(chunk).then(() => {})));
  } finally {
    await plaintext.close();
  }
}

function writeToStdout(chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}
