import type { Stats } from "node:fs";
import { resolveOwnership } from "../../activation/plan.js";
import type { Ownership } from "../../activation/write-exclusive.js";
import { type DeclaredItem, RENDERED_DIRECTORY } from "../../manifest/types.js";
import type { StatusContext } from "../context.js";
import { type GenerationEntry, listGeneration, statSecret } from "../generation-files.js";
import { type Blocked, describeType, isBlocked } from "../reach.js";
import { type DeclaredSecret, type Finding, formatMode, type InstalledFile, type RecipientCheck, type SecretRow, type SecretsSection, type Section } from "../report.js";

/**
 * Every file of the current generation with its owner, group, mode and size
 * (metadata only: no file is opened), and with a manifest, every declared
 * secret: whether it is installed as declared, and whether the host's
 * identities open its file (./../recipients.ts). As a user who may not list
 * the generation, the declared names are looked up one by one.
 */
export async function secretsSection(context: StatusContext): Promise<Section<SecretsSection>> {
  const findings: Finding[] = [];
  const { currentDirectory, current, manifest } = context;
  const listed = listedFiles(context);
  const rows: SecretRow[] = [];
  // Templates are files of the generation too, under rendered/ (docs/lifecycle.md), with nothing to decrypt.
  const declaredItems: { name: string; subject: string; item: DeclaredItem; recipients: () => Promise<{ check: RecipientCheck; finding: Finding | null }> }[] = [
    ...(manifest?.secrets ?? []).map((secret) => ({ name: secret.name, subject: `secret ${secret.name}`, item: secret, recipients: () => context.recipients.check(secret) })),
    ...(manifest?.templates ?? []).map((template) => ({
      name: `${RENDERED_DIRECTORY}/${template.name}`,
      subject: `template ${template.name}`,
      item: template,
      recipients: async () => ({ check: { state: "not-applicable" as const, detail: `template ${template.name}: rendered from secrets` }, finding: null }),
    })),
  ];
  const declaredNames = new Set(declaredItems.map(({ name }) => name));

  for (const { name, subject, item, recipients } of declaredItems) {
    const entry = listed.files.get(name);
    let installed: InstalledFile;
    if (entry !== undefined) installed = await installedFile(context, "info" in entry ? entry.info : entry.blocked);
    else if (currentDirectory === null) installed = { state: "missing" };
    else if (isBlocked(currentDirectory)) installed = installedOf(currentDirectory);
    else if (listed.complete) installed = { state: "missing" };
    else installed = await installedFile(context, statSecret(currentDirectory, name));
    const declared = await declaredSecret(context, subject, item, installed, recipients, findings);
    rows.push({ name, installed, declared });
  }
  for (const [name, entry] of listed.files) {
    if (declaredNames.has(name)) continue;
    rows.push({ name, installed: await installedFile(context, "info" in entry ? entry.info : entry.blocked), declared: null });
    if (manifest !== null) {
      findings.push({
        severity: "problem",
        subject: `secret ${name}`,
        message: `in generation ${current} but not declared: the manifest changed since the last activation (run ageboot activate)`,
      });
    }
  }
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const identityFinding = await context.recipients.identityFinding();
  if (identityFinding !== null) findings.push(identityFinding);
  if (!listed.complete && manifest === null) {
    findings.push({ severity: "unchecked", subject: "secrets", message: listed.reason ?? "the current generation could not be listed" });
  }
  const listing = listed.complete ? { complete: true } : { complete: false, reason: listed.reason ?? "not listed" };
  return { data: { generation: current, ...listing, entries: rows }, findings };
}

/** The current generation's entries by name; `complete` false when they could not all be read. */
function listedFiles(context: StatusContext): { files: Map<string, GenerationEntry>; complete: boolean; reason?: string } {
  const { currentDirectory } = context;
  if (currentDirectory === null) return { files: new Map(), complete: true };
  if (isBlocked(currentDirectory)) return { files: new Map(), complete: false, reason: currentDirectory.reason };
  const listed = listGeneration(currentDirectory);
  const files = new Map(listed.entries.map((entry) => [entry.name, entry]));
  if (listed.complete) return { files, complete: true };
  if (context.asRoot) return { files, complete: false, reason: listed.reason! };
  const declaredOnly = context.manifest === null ? "" : ", so only the declared secrets are shown";
  return { files, complete: false, reason: `uid ${context.uid} may not list generation ${context.current}${declaredOnly}` };
}

async function installedFile(context: StatusContext, info: Stats | Blocked): Promise<InstalledFile> {
  if (isBlocked(info)) return installedOf(info);
  if (!info.isFile()) return { state: "not-a-file", type: describeType(info) };
  return { state: "present", owner: await context.names.user(info.uid), group: await context.names.group(info.gid), mode: formatMode(info.mode), size: info.size };
}

function installedOf(blocked: Blocked): InstalledFile {
  return blocked.blocked === "missing" ? { state: "missing" } : { state: "unknown", reason: blocked.reason };
}

/** What the manifest declares for `secret` (or a template) against what is installed, and its file's recipients. */
async function declaredSecret(
  context: StatusContext,
  subject: string,
  secret: DeclaredItem,
  installed: InstalledFile,
  recipientsOf: () => Promise<{ check: RecipientCheck; finding: Finding | null }>,
  findings: Finding[],
): Promise<DeclaredSecret> {
  const expected = await resolveOwnership(secret, context.users());
  const { state, detail } = compare(context, installed, expected);
  if (state === "missing" || state === "differs") findings.push({ severity: "problem", subject, message: detail! });
  if (state === "unknown") findings.push({ severity: "unchecked", subject, message: detail! });
  const recipients = await recipientsOf();
  if (recipients.finding !== null) findings.push(recipients.finding);
  return {
    owner: secret.owner,
    group: secret.group ?? null,
    mode: formatMode(secret.mode),
    state,
    ...(detail === undefined ? {} : { detail }),
    recipients: recipients.check,
  };
}

function compare(context: StatusContext, installed: InstalledFile, expected: Ownership | string): { state: DeclaredSecret["state"]; detail?: string } {
  switch (installed.state) {
    case "missing":
      return { state: "missing", detail: context.current === null ? "not installed: no generation is current" : `not installed in generation ${context.current}` };
    case "not-a-file":
      return { state: "differs", detail: `generation ${context.current} has ${installed.type} at its name, not a file` };
    case "unknown":
      return { state: "unknown", detail: installed.reason };
  }
  if (typeof expected === "string") return { state: "differs", detail: `${expected}, so activation cannot install it as declared` };
  const differences: string[] = [];
  if (installed.owner.id !== expected.uid) differences.push(`owner is ${installed.owner.id}, declared ${expected.uid}`);
  if (installed.group.id !== expected.gid) differences.push(`group is ${installed.group.id}, declared ${expected.gid}`);
  if (installed.mode !== formatMode(expected.mode)) differences.push(`mode is ${installed.mode}, declared ${formatMode(expected.mode)}`);
  if (differences.length === 0) return { state: "as-declared" };
  const deferred = installed.owner.id === 0 && installed.group.id === 0 && installed.mode === "0400";
  return { state: "differs", detail: `${differences.join(", ")}${deferred ? " (as activate --defer-unknown-owners leaves it: run ageboot chown)" : ""}` };
}
