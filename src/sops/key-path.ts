import { AgebootError } from "../errors.js";
import { summarizeList } from "../summarize-list.js";
import type { SopsMap, SopsValue } from "./tree.js";

/**
 * The value a secret's `key` names, as sops-nix finds it
 * (pkgs/sops-install-secrets/main.go): the path split on "/" and walked
 * through maps from the first document; the value must be a string, and its
 * bytes are the secret, exactly (no newline added). Two deliberate
 * extensions, both for paths sops-nix rejects, so no working configuration
 * changes: a component that is a decimal number indexes a list (sops-nix:
 * "Arrays are unsupported", #450), and JSON nested keys work (sops-nix
 * #604/#328 fail on any "a/b" key in JSON). A `time` value is its RFC 3339
 * text, as sops-nix's YAML re-parse gives it. Errors name the path and list
 * what exists at the level where the walk stopped.
 */
export function valueAtKeyPath(branch: SopsMap, key: string): Buffer {
  const components = key.split("/");
  let node: SopsValue = branch;
  for (const [index, component] of components.entries()) {
    const prefix = components.slice(0, index + 1).join("/");
    const parent = components.slice(0, index).join("/");
    if (node.kind === "map") {
      // The last of duplicate keys wins, as in the Go map sops-nix decodes into.
      let found: SopsValue | undefined;
      for (const item of node.items) if (item.kind === "entry" && item.key === component) found = item.value;
      if (found === undefined) {
        const keys = node.items.flatMap((item) => (item.kind === "entry" ? [JSON.stringify(item.key)] : []));
        throw new AgebootError(
          "PLAN",
          `key "${prefix}" not found: ${parent === "" ? "the top level" : `"${parent}"`} has ${keys.length === 0 ? "no keys" : `the keys ${summarizeList(keys, 20)}`}`,
        );
      }
      node = found;
    } else if (node.kind === "list") {
      const items = node.items.filter((item) => item.kind !== "comment") as SopsValue[];
      if (!/^(0|[1-9]\d{0,8})$/.test(component) || Number(component) >= items.length) {
        throw new AgebootError(
          "PLAN",
          `key "${prefix}" not found: "${parent}" is a list of ${items.length} item${items.length === 1 ? "" : "s"}; address one by its position (${parent}/0 to ${parent}/${Math.max(items.length - 1, 0)})`,
        );
      }
      node = items[Number(component)]!;
    } else {
      throw new AgebootError("PLAN", `key "${prefix}" not found: "${parent}" is ${describeKind(node)}, not a mapping`);
    }
  }
  if (node.kind === "scalar" && (node.type === "str" || node.type === "time"))
    return Buffer.from(node.type === "str" && node.bytes !== undefined ? node.bytes : Buffer.from(node.text, "utf8"));
  const hint =
    node.kind === "map"
      ? `; name one of its keys (${summarizeList(
          node.items.flatMap((item) => (item.kind === "entry" ? [`${key}/${item.key}`] : [])),
          10,
        )}) or use format "binary"/key "" for the whole file`
      : "";
  throw new AgebootError("PLAN", `the value of key "${key}" is ${describeKind(node)}, not a string; a secret must be a string (as in sops-nix)${hint}`);
}

function describeKind(node: SopsValue): string {
  switch (node.kind) {
    case "map":
      return "a mapping";
    case "list":
      return "a list";
    case "null":
      return "null";
    case "scalar":
      return { str: "a string", int: "an integer", float: "a float", bool: "a boolean", time: "a time", bytes: "a byte string" }[node.type];
  }
}
