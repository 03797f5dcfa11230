import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { nssMayKnowMore } from "./nss-sources.js";

const run = promisify(execFile);

/**
 * All NSS lookups of one run together take at most this long. Users and groups
 * that are not in /etc/passwd and /etc/group are asked of NSS with a getent(1)
 * child; with a slow or unreachable directory service (LDAP, SSSD offline at
 * boot) each can take seconds, and a boot waits on them. Ten seconds is the
 * single lookup's own limit: one slow answer is still waited for, a second
 * names what it could not look up instead of delaying the boot further.
 */
export const NSS_BUDGET_MS = 10_000;
const LOOKUP_TIMEOUT_MS = 10_000;

/** The colon-separated fields getent printed, or why there are none (said after the user or group name). */
export type NssAnswer = { readonly fields: readonly string[] } | { readonly missing: string };

/**
 * getent(1) lookups for one run: each database and name is asked at most once,
 * and a name NSS does not know is remembered too (twenty secrets owned by one
 * unknown user used to cost twenty children, a second each on a slow NSS);
 * once the run's budget is spent, no further child is started.
 */
export class NssLookups {
  private readonly answers = new Map<string, Promise<NssAnswer>>();
  private deadline: number | null = null;

  constructor(
    private readonly budgetMs = NSS_BUDGET_MS,
    /** Whether NSS could know more than the files hold (./nss-sources.ts); a no saves a child. */
    private readonly mayKnowMore: (database: "passwd" | "group", name: string) => boolean = nssMayKnowMore,
  ) {}

  lookup(database: "passwd" | "group", name: string): Promise<NssAnswer> {
    const key = `${database}\0${name}`;
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = this.ask(database, name);
      this.answers.set(key, answer);
    }
    return answer;
  }

  private async ask(database: "passwd" | "group", name: string): Promise<NssAnswer> {
    // A host whose NSS has nothing but /etc/passwd and /etc/group (read already) needs no getent:
    // its answer could only be "does not exist". (On NixOS the keys group is in /etc/group anyway.)
    if (!this.mayKnowMore(database, name)) return { missing: "does not exist" };
    const now = Date.now();
    this.deadline ??= now + this.budgetMs;
    const left = this.deadline - now;
    if (left <= 0) return { missing: `was not looked up: this run's NSS lookups (getent) already took ${this.budgetMs / 1000} s in all` };
    try {
      const { stdout } = await run("getent", [database, name], { timeout: Math.min(left, LOOKUP_TIMEOUT_MS) });
      return { fields: stdout.split("\n")[0]?.split(":") ?? [] };
    } catch (error) {
      if ((error as { killed?: boolean }).killed)
        return { missing: `could not be looked up: getent ${database} did not answer in time (NSS lookups take at most ${this.budgetMs / 1000} s per run)` };
      return { missing: "does not exist" }; // exit 2: no such entry (or no getent at all)
    }
  }
}
