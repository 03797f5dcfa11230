// Templates without root: placeholders, their parsing and validation, the
// bounds of rendering, and whole activations in process (test/helpers/in-process-host.ts)
// that render, rotate, fail and dry-run templates. Privileged checks of owner
// and mode through the real CLI are in test/privileged/templates.test.ts.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { summarize } from "../../src/activation/report.js";
import { validateManifest } from "../../src/manifest/validate.js";
import { parseTemplate, placeholderFor } from "../../src/templates/placeholder.js";
import { MAX_RENDERED_BYTES, type OpenedSecret, renderTemplate } from "../../src/templates/render.js";
import { CANARY } from "../helpers/canary.js";
import { InProcessHost } from "../helpers/in-process-host.js";

const DB = placeholderFor("db");
const API = placeholderFor("api");

describe("placeholders", () => {
  it("are <AGEBOOT:sha256 of the name's UTF-8 bytes:PLACEHOLDER>, as printf %s NAME | sha256sum computes it", () => {
    // Vectors from `printf %s db | sha256sum` and `printf %s 'dir/é' | sha256sum`.
    expect(DB).toBe("<AGEBOOT:7bdc25d1694ef984782a16f6f1710c1c6bc83ba7a131b515baf532bea021d011:PLACEHOLDER>");
    expect(placeholderFor("dir/é")).toBe("<AGEBOOT:077e091943b127f207598533a03906232c8d66ce7ff5b5aead629b46a085afb9:PLACEHOLDER>");
  });

  it("split a template into text and the secrets named, keeping every other byte as it is", () => {
    const bytes = Buffer.concat([Buffer.from(`a=${DB}\n`), Buffer.from([0xff, 0x00, 0xc3]), Buffer.from(`${DB}${API}<AGEBOOT:`)]);
    const parsed = parseTemplate(bytes, ["db", "api", "unused"]);
    expect("parts" in parsed).toBe(true);
    if (!("parts" in parsed)) return;
    expect(parsed.parts.map((part) => ("text" in part ? part.text.toString("latin1") : { secret: part.secret }))).toEqual([
      "a=",
      { secret: "db" },
      "\n\xff\x00\xc3",
      { secret: "db" },
      { secret: "api" },
      "<AGEBOOT:",
    ]);
  });

  it("that name no declared secret, or are malformed, are problems, each quoted", () => {
    const unknown = placeholderFor("nope");
    const parsed = parseTemplate(Buffer.from(`${unknown} <AGEBOOT:db:PLACEHOLDER> <AGEBOOT:${"A".repeat(64)}:PLACEHOLDER>`), ["db"]);
    expect(parsed).toEqual({
      problems: [
        `${unknown} names no secret this manifest declares`,
        expect.stringContaining('"<AGEBOOT:db:PLACEHOLDER>" is not a placeholder: between "<AGEBOOT:" and ":PLACEHOLDER>" goes the SHA-256'),
        expect.stringContaining("64 lowercase hex digits (printf %s NAME | sha256sum"),
      ],
    });
  });
});

describe("sops-nix's placeholders typed in a template", () => {
  // sops-nix's spelling: "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>" (modules/sops/templates/default.nix).
  const sopsPlaceholder = (name: string) => placeholderFor(name).replace("<AGEBOOT:", "<SOPS:");

  it("<SOPS:sha256 of the name:PLACEHOLDER> is the same hash, and is replaced like ageboot's own", () => {
    expect(sopsPlaceholder("db")).toBe("<SOPS:7bdc25d1694ef984782a16f6f1710c1c6bc83ba7a131b515baf532bea021d011:PLACEHOLDER>");
    const parsed = parseTemplate(Buffer.from(`a=${sopsPlaceholder("db")} b=${API}`), ["db", "api"]);
    expect("parts" in parsed && parsed.parts.map((part) => ("text" in part ? part.text.toString() : { secret: part.secret }))).toEqual([
      "a=",
      { secret: "db" },
      " b=",
      { secret: "api" },
    ]);
  });

  it("naming no declared secret, or malformed, is a problem as ageboot's own is, never text left in place", () => {
    const unknown = sopsPlaceholder("nope");
    expect(parseTemplate(Buffer.from(`${unknown} <SOPS:db:PLACEHOLDER>`), ["db"])).toEqual({
      problems: [
        `${unknown} names no secret this manifest declares`,
        expect.stringContaining('"<SOPS:db:PLACEHOLDER>" is not a placeholder: between "<SOPS:" and ":PLACEHOLDER>" goes the SHA-256'),
      ],
    });
  });

  it("renders in a whole activation, from a template's content", async () => {
    const host = await InProcessHost.create();
    try {
      const result = await host.activate({ db: { file: await host.encrypt("pw") } }, { templates: { "app.env": { content: `DB=${sopsPlaceholder("db")}\n` } } });
      expect(result.installed).toBe(true);
      expect(readFileSync(join(host.secretsDir, "rendered/app.env"), "utf8")).toBe(`DB=pw\n${CANARY}\n`);
    } finally {
      host.cleanup();
    }
  });
});

describe("template validation", () => {
  const problemsOf = (manifest: unknown) => {
    const result = validateManifest(manifest);
    return "problems" in result ? result.problems : [];
  };
  const secrets = { db: { file: "/s/db.age" } };

  it("defaults like a secret's, at secretsDir/rendered/<name>", () => {
    const result = validateManifest({ version: 1, secrets, templates: { "app.env": { content: `DB=${DB}\n`, reloadUnits: ["app"] } } });
    expect("manifest" in result && result.manifest.templates).toEqual([
      {
        name: "app.env",
        source: { content: `DB=${DB}\n` },
        path: "/run/agenix/rendered/app.env",
        owner: "root",
        group: undefined,
        mode: 0o400,
        symlink: true,
        restartUnits: [],
        reloadUnits: ["app.service"],
      },
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["neither content nor file", {}, 'template "t": needs "content" (the text) or "file" (a file holding it)'],
    ["both content and file", { content: "x", file: "/t" }, 'template "t": has both "content" and "file"; give one'],
    ["content that is not text", { content: 1 }, `template "t" field "content": must be the template's text, found 1`],
    ["a relative file", { file: "t.tmpl" }, 'template "t" field "file": must be an absolute path'],
    ["an unknown placeholder", { content: `x=${placeholderFor("nope")}` }, `template "t" field "content": ${placeholderFor("nope")} names no secret`],
    ["an unknown field", { content: "x", format: "age" }, 'template "t" field "format": unknown field'],
    ["a bad mode", { content: "x", mode: "0800" }, 'template "t" field "mode": must be an octal permission string'],
    ["a bad unit", { content: "x", restartUnits: ["a b"] }, 'template "t" field "restartUnits":'],
    ["a custom path inside secretsDir", { content: "x", path: "/run/agenix/t" }, 'template "t" field "path": a custom path must not be inside secretsDir'],
    ["content over 1 MiB", { content: "x".repeat(1024 * 1024 + 1) }, 'template "t" field "content": 1048577 bytes, more than the 1048576 bytes (1 MiB)'],
  ])("refuses %s", (_, settings, expected) => {
    expect(problemsOf({ version: 1, secrets, templates: { t: settings } }).join("\n")).toContain(expected);
  });

  it("names templates like secrets", () => {
    expect(problemsOf({ version: 1, secrets, templates: { "../t": { content: "x" } } })).toEqual(['template "../t": invalid name: contains ".."']);
  });

  it("reserves the name rendered for them: a secret named rendered or under it is refused only when templates are declared", () => {
    for (const name of ["rendered", "rendered/x"]) {
      const named = { [name]: { file: "/s/a.age" } };
      expect(problemsOf({ version: 1, secrets: named })).toEqual([]);
      expect(problemsOf({ version: 1, secrets: named, templates: { t: { content: "x" } } })).toEqual([
        expect.stringMatching(new RegExp(`^secret "${name}": invalid name: "rendered" holds the rendered templates`)),
      ]);
    }
  });

  it("refuses a template and a secret with one path", () => {
    expect(problemsOf({ version: 1, secrets: { db: { file: "/s", path: "/etc/x" } }, templates: { t: { content: "x", path: "/etc/x" } } })).toEqual([
      'template "t" field "path": /etc/x is also the path of secret "db"',
    ]);
  });
});

describe("rendering bounds", () => {
  const secret = (bytes: Buffer): OpenedSecret => ({ size: bytes.length, read: async () => Buffer.from(bytes), close: async () => {} });

  it("refuses a secret larger than a rendered template may be before reading it", async () => {
    let read = false;
    const huge: OpenedSecret = {
      size: MAX_RENDERED_BYTES + 1,
      read: async () => {
        read = true;
        return Buffer.alloc(0);
      },
      close: async () => {},
    };
    const parsed = parseTemplate(Buffer.from(DB), ["db"]);
    if (!("parts" in parsed)) throw new Error("no parts");
    await expect(
      renderTemplate(
        parsed.parts,
        async () => huge,
        () => {},
      ),
    ).rejects.toThrow(/too large to render: secret "db" alone holds 16777217 bytes, more than the 16777216 bytes \(16 MiB\)/);
    expect(read).toBe(false);
  });

  it("refuses a template whose secrets, added up, would hold more than 16 MiB", async () => {
    const parsed = parseTemplate(Buffer.from(`${DB}${DB}${DB}`), ["db"]);
    if (!("parts" in parsed)) throw new Error("no parts");
    const big: OpenedSecret = { size: 6 * 1024 * 1024, read: async () => Buffer.alloc(0), close: async () => {} };
    await expect(
      renderTemplate(
        parsed.parts,
        async () => big,
        () => {},
      ),
    ).rejects.toThrow(/it would hold 18874368 bytes/);
  });

  it("replaces each placeholder with the secret's exact bytes, then zeroes the rendered bytes and the secrets read", async () => {
    const parsed = parseTemplate(Buffer.from(`a=${DB};b=${API};a=${DB}`), ["db", "api"]);
    if (!("parts" in parsed)) throw new Error("no parts");
    const values = { db: Buffer.from([0, 1, 0xff]), api: Buffer.from("k\n") };
    const handed: Buffer[] = [];
    let rendered: Buffer | null = null;
    let seen = "";
    await renderTemplate(
      parsed.parts,
      async (name) => {
        const value = values[name as keyof typeof values];
        return {
          size: value.length,
          read: async () => {
            const copy = Buffer.from(value);
            handed.push(copy);
            return copy;
          },
          close: async () => {},
        };
      },
      (bytes) => {
        rendered = bytes;
        seen = bytes.toString("latin1");
      },
    );
    expect(seen).toBe("a=\x00\x01\xff;b=k\n;a=\x00\x01\xff");
    expect(rendered!.every((byte: number) => byte === 0)).toBe(true);
    expect(handed).toHaveLength(2); // each secret read once, however often it is named
    for (const buffer of handed) expect(buffer.every((byte) => byte === 0)).toBe(true);
  });

  it("closes what it opened when a later secret cannot be opened", async () => {
    const parsed = parseTemplate(Buffer.from(`${DB}${API}`), ["db", "api"]);
    if (!("parts" in parsed)) throw new Error("no parts");
    let closed = 0;
    const open = async (name: string) => {
      if (name === "api") throw new Error("gone");
      return { ...secret(Buffer.from("x")), close: async () => void closed++ };
    };
    await expect(renderTemplate(parsed.parts, open, () => {})).rejects.toThrow("gone");
    expect(closed).toBe(1);
  });
});

describe("templates in a run", () => {
  let host: InProcessHost;
  beforeEach(async () => (host = await InProcessHost.create()));
  afterEach(() => host.cleanup());

  const rendered = (name: string) => readFileSync(join(host.secretsDir, "rendered", name), "utf8");

  it("renders two secrets into rendered/<name>, and counts templates apart from secrets", async () => {
    const secrets = { db: { file: await host.encrypt("pw1") }, api: { file: await host.encrypt("key1") } };
    const templates = { "app.env": { content: `DB=${DB}\nAPI=${API}\n` }, "dir/plain": { content: "no secrets\n" } };
    const first = await host.activate(secrets, { templates });
    expect(first.headline).toBe("generation 1 is current: 2 added, 0 changed, 0 removed, 0 unchanged, 0 failed; templates: 2 added");
    expect(rendered("app.env")).toBe(`DB=pw1\n${CANARY}\nAPI=key1\n${CANARY}\n`);
    expect(rendered("dir/plain")).toBe("no secrets\n");
    const again = await host.activate(secrets, { templates });
    expect(again.headline).toBe("generation 2 is current: 0 added, 0 changed, 0 removed, 2 unchanged, 0 failed; templates: 2 unchanged");
  });

  it("a rotated secret changes the template that names it, and only that one", async () => {
    const api = { file: await host.encrypt("key") };
    const templates = { "uses-db": { content: `${DB}` }, "uses-api": { content: `${API}` } };
    await host.activate({ db: { file: await host.encrypt("old") }, api }, { templates });
    const rotated = await host.activate({ db: { file: await host.encrypt("new") }, api }, { templates });
    expect(summarize(rotated).templates).toMatchObject({ changed: ["uses-db"], unchanged: ["uses-api"] });
    expect(rendered("uses-db")).toBe(`new\n${CANARY}`);
    // The outcome carries the template's units, as a secret's does.
    const withUnits = await host.activate({ db: { file: await host.encrypt("new") }, api }, { templates: { ...templates, "uses-db": { content: DB, restartUnits: ["app"] } } });
    expect(withUnits.outcomes.find((outcome) => outcome.kind === "template" && outcome.name === "uses-db")?.declared.restartUnits).toEqual(["app.service"]);
  });

  it("a changed template asks for its units, and a removed one for the units it named", async () => {
    const templates = { "app.env": { content: `DB=${DB}`, restartUnits: ["app"], reloadUnits: ["nginx"] }, other: { content: "x", restartUnits: ["other"] } };
    await host.activate({ db: { file: await host.encrypt("one") } }, { templates });
    const rotated = await host.activate({ db: { file: await host.encrypt("two") } }, { templates });
    expect(rotated.units).toEqual({ restart: ["app.service"], reload: ["nginx.service"] });
    const removed = await host.activate({ db: { file: await host.encrypt("two") } }, { templates: { "app.env": templates["app.env"] } });
    expect(summarize(removed).templates.removed).toEqual(["other"]);
    expect(removed.units).toEqual({ restart: ["other.service"], reload: [] });
  });

  it("a template whose secret fails fails too, naming both, and the current generation stays", async () => {
    const dbFile = await host.encrypt("pw");
    const templates = { "app.env": { content: `DB=${DB}` }, other: { content: "x" } };
    await host.activate({ db: { file: dbFile } }, { templates });
    rmSync(dbFile);
    const failed = await host.activate({ db: { file: dbFile } }, { templates });
    expect(failed.installed).toBe(false);
    expect(summarize(failed).templates.failures).toEqual([
      { kind: "template", name: "app.env", code: "PLAN", message: expect.stringMatching(/^secret "db" failed: file .* does not exist$/) },
    ]);
    expect(failed.headline).toBe(
      "nothing changed, generation 1 stays current; the new generation was discarded: 0 added, 0 changed, 0 removed, 0 unchanged, 1 failed; templates: 1 unchanged, 1 failed",
    );
    expect(rendered("app.env")).toBe(`DB=pw\n${CANARY}`);
  });

  it("a removed template is counted removed, and its file is not in the new generation", async () => {
    const secrets = { db: { file: await host.encrypt("pw") } };
    await host.activate(secrets, { templates: { a: { content: DB }, b: { content: "b" } } });
    const second = await host.activate(secrets, { templates: { a: { content: DB } } });
    expect(summarize(second).templates).toMatchObject({ removed: ["b"], unchanged: ["a"] });
    expect(summarize(second).removed).toEqual([]);
    expect(() => rendered("b")).toThrow(/ENOENT/);
  });

  it("a dry run renders in memory and only compares: it says what would change and writes nothing", async () => {
    const templates = { "app.env": { content: `DB=${DB}` } };
    await host.activate({ db: { file: await host.encrypt("one") } }, { templates });
    const dry = await host.activate({ db: { file: await host.encrypt("two") } }, { templates, dryRun: true });
    expect(dry.headline).toBe("dry run: would install 0 added, 1 changed, 0 removed, 0 unchanged, 0 failed; templates: 1 changed; current generation 1");
    expect(rendered("app.env")).toBe(`DB=one\n${CANARY}`);
    const same = await host.activate({ db: { file: await host.encrypt("one") } }, { templates, dryRun: true });
    expect(summarize(same).templates.unchanged).toEqual(["app.env"]);
  });

  it("a template file that others could have written is refused, naming the template and the file", async () => {
    const result = await host.activate({ db: { file: await host.encrypt("x") } }, { templates: { t: { file: "/tmp" } } });
    expect(summarize(result).templates.failures).toEqual([{ kind: "template", name: "t", code: "PLAN", message: expect.stringContaining("file /tmp:") }]);
  });
});
