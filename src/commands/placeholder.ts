import { parseArgs } from "node:util";
import { AgebootError } from "../errors.js";
import type { Logger } from "../log.js";
import { secretNameProblem } from "../manifest/validate.js";
import { placeholderFor } from "../templates/placeholder.js";

export const placeholderHelp = `Usage: ageboot placeholder NAME...

Print the placeholder of each secret NAME, one a line, for a template's text:
<AGEBOOT:sha256 of NAME:PLACEHOLDER>. At activation it is replaced by the
secret's plaintext. The same as: printf '<AGEBOOT:%s:PLACEHOLDER>\\n' "$(printf %s NAME | sha256sum | cut -d' ' -f1)"

Options:
  -h, --help   show this help`;

export async function runPlaceholder(args: string[], _log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(`${placeholderHelp}\n`);
    return;
  }
  if (positionals.length === 0) throw new AgebootError("USAGE", "placeholder takes one or more secret names; see ageboot placeholder --help");
  for (const name of positionals) {
    const problem = secretNameProblem(name);
    if (problem) throw new AgebootError("USAGE", `"${name}" is not a secret name: ${problem}`);
  }
  process.stdout.write(positionals.map((name) => `${placeholderFor(name)}\n`).join(""));
}
