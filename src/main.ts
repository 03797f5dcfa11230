import { parseArgs } from "node:util";
import { activateHelp, runActivate } from "./commands/activate.js";
import { checkHelp, runCheck } from "./commands/check.js";
import { chownHelp, runChown } from "./commands/chown.js";
import { decryptHelp, runDecrypt } from "./commands/decrypt.js";
import { placeholderHelp, runPlaceholder } from "./commands/placeholder.js";
import { recipientHelp, runRecipient } from "./commands/recipient.js";
import { runStatus, statusHelp } from "./commands/status.js";
import { AgebootError, describeCause } from "./errors.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { configureFaultInjection } from "./fault-injection.js";
import { createLogger, type LogFormat, type Logger } from "./log.js";

interface Command {
  summary: string;
  help: string;
  /**
   * Resolves false when the job ran but failed (already reported), or an exit
   * status of its own (\`status\`: see its help); throws for errors that stop it.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that cannot fail softly resolves nothing.
  run(args: string[], log: Logger): Promise<boolean | number | void>;
}

const commands: Record<string, Command> = {
  activate: { summary: "decrypt the manifest's secrets into a new generation and make it current", help: activateHelp, run: runActivate },
  check: { summary: "check a manifest without the private key or root (build time)", help: checkHelp, run: runCheck },
  chown: { summary: "apply owners, groups and modes that activate --defer-unknown-owners left for later", help: chownHelp, run: runChown },
  decrypt: { summary: "decrypt one age file with host identities (debugging)", help: decryptHelp, run: runDecrypt },
  placeholder: { summary: "print the placeholder of a secret, for a template's text", help: placeholderHelp, run: runPlaceholder },
  recipient: { summary: "print the age1... recipient of an ed25519 SSH key (as ssh-to-age)", help: recipientHelp, run: runRecipient },
  status: { summary: "show the current generation, its secrets and custom paths, without decrypting", help: statusHelp, run: runStatus },
};

const mainHelp = `Usage: ageboot [GLOBAL OPTIONS] COMMAND [OPTIONS]

Decrypts a host's age-encrypted secrets (agenix / sops-nix style) with its SSH
host keys or age identities.

Commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`)
  .join("\n")}

Global options:
  --log-format text|json   log lines for people (default; journal priorities
                           under systemd) or JSON (also AGEBOOT_LOG_FORMAT)
  --log-level LEVEL        error, warn, info (default) or debug (also AGEBOOT_LOG_LEVEL)
  -h, --help               show this help; "ageboot COMMAND --help" for a command
  --version                print the version

Exit status: 0 success, 1 a secret failed, 2 usage error, 3 no usable identity,
4 invalid manifest (nothing touched), 5 mount point, secretsDir or lock unusable (nothing touched),
7 (activate) every secret installed but a custom path not (units count it as success);
"status" has its own: see ageboot status --help.`;

const globalOptions = {
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/** Split argv into the global options before the command, the command, and its own arguments. */
function splitArgv(argv: string[]): { globals: string[]; command: string | undefined; rest: string[] } {
  let index = 0;
  while (index < argv.length && argv[index]!.startsWith("-")) {
    const arg = argv[index]!;
    const takesValue = (arg === "--log-format" || arg === "--log-level") && !arg.includes("=");
    index += takesValue ? 2 : 1;
  }
  return { globals: argv.slice(0, index), command: argv[index], rest: argv.slice(index + 1) };
}

/** Set by the bundler from package.json (scripts/build.mjs). */
declare const AGEBOOT_VERSION: string;

/** How this process got its code, for the debug line that says what start-up cost. */
export interface StartInfo {
  /** "the code-cached bundle", or "the bundle (...)" saying why the code cache was not used. */
  from: string;
  /** performance.now() when the code was ready. */
  readyAtMs: number;
}

/** The whole command line, from arguments to exit status. Entry: src/code-cache/bundle-entry.ts (the build's warm-up calls it too). */
export async function main(argv: string[], start: StartInfo): Promise<number> {
  configureFaultInjection();
  let log = createLogger();
  try {
    const { globals, command, rest } = splitArgv(argv);
    const { values } = parseArgs({ args: globals, options: globalOptions, strict: true });
    const format = values["log-format"] ?? process.env["AGEBOOT_LOG_FORMAT"] ?? "text";
    if (format !== "text" && format !== "json") throw new AgebootError("USAGE", `--log-format must be text or json, not ${format}`);
    const level = values["log-level"] ?? process.env["AGEBOOT_LOG_LEVEL"] ?? "info";
    if (!["error", "warn", "info", "debug"].includes(level)) throw new AgebootError("USAGE", `--log-level must be error, warn, info or debug, not ${level}`);
    log = createLogger({ format: format as LogFormat, level });
    log.debug(`ageboot ready at ${Math.round(start.readyAtMs)} ms after process start, from ${start.from}`);

    if (values.version) {
      process.stdout.write(`ageboot ${AGEBOOT_VERSION}\n`);
      return EXIT.OK;
    }
    if (values.help || command === undefined || command === "help") {
      process.stdout.write(`${mainHelp}\n`);
      return command === undefined && !values.help ? EXIT.USAGE : EXIT.OK;
    }
    const selected = commands[command];
    if (!selected) throw new AgebootError("USAGE", `unknown command "${command}"; see ageboot --help`);
    const outcome = await selected.run(rest, log);
    if (typeof outcome === "number") return outcome;
    return outcome === false ? EXIT.FAILED : EXIT.OK;
  } catch (error) {
    return reportFailure(error, log);
  }
}

function reportFailure(error: unknown, log: Logger): number {
  if (error instanceof AgebootError) {
    log.error({ code: error.code }, error.message);
    return exitCodeFor(error.code);
  }
  // parseArgs errors: unknown option, missing value.
  const code = (error as NodeJS.ErrnoException).code ?? "";
  if (code.startsWith("ERR_PARSE_ARGS")) {
    log.error(`${describeCause(error).replace(/^ERR_PARSE_ARGS_\w+: /, "")}; see --help`);
    return EXIT.USAGE;
  }
  // A bug, not a user error: say so plainly, without a stack trace that could carry data.
  log.error(`internal error: ${describeCause(error)}`);
  return EXIT.FAILED;
}
