import { fstatSync, type Stats } from "node:fs";
import { generationNumber } from "../../activation/generations.js";
import type { StatusContext } from "../context.js";
import { sealedGenerationFindings } from "../sealed-generation.js";
import { isBlocked, listNames, lstatIn } from "../reach.js";
import type { GenerationSummary, GenerationsSection, Listing, Section } from "../report.js";

/** Names read from the mount point at most: generations, records, links. Far above what keepGenerations keeps. */
const MAX_MOUNT_ENTRIES = 10_000;

/** The current generation, when it was made, and every generation kept on the mount point. */
export async function generationsSection(context: StatusContext): Promise<Section<GenerationsSection>> {
  const { current, currentDirectory, containerLink } = context;
  const currentMadeAt = currentDirectory === null || isBlocked(currentDirectory) ? null : madeAt(fstatSync(currentDirectory.fd));
  return {
    data: {
      current: current === null ? null : { generation: current, madeAt: currentMadeAt },
      containerLink,
      kept: keptGenerations(context, currentMadeAt),
    },
    findings: [
      ...context.layoutFindings,
      ...(currentDirectory === null || isBlocked(currentDirectory) ? [] : sealedGenerationFindings(currentDirectory, context.mountPoint, context.asRoot)),
    ],
  };
}

function keptGenerations(context: StatusContext, currentMadeAt: string | null): Listing<GenerationSummary> {
  const { mount, current } = context;
  const onlyCurrent = current === null ? [] : [{ generation: current, madeAt: currentMadeAt, current: true }];
  if (isBlocked(mount)) return { complete: false, reason: mount.reason, entries: onlyCurrent };
  const listed = listNames(mount, MAX_MOUNT_ENTRIES);
  if (isBlocked(listed))
    return { complete: false, reason: listed.blocked === "denied" ? `not listed: uid ${context.uid} may not read ${context.mountPoint}` : listed.reason, entries: onlyCurrent };
  const entries = listed.names
    .map(generationNumber)
    .filter((generation): generation is number => generation !== null)
    .sort((a, b) => b - a)
    .map((generation) => {
      const info = lstatIn(mount, String(generation));
      return { generation, madeAt: isBlocked(info) ? null : madeAt(info), current: generation === current };
    });
  return listed.complete ? { complete: true, entries } : { complete: false, reason: `more than ${MAX_MOUNT_ENTRIES} entries in ${context.mountPoint}; listed the first`, entries };
}

/** A generation's directory changes last when its last file is written: when it was made, to the second. */
function madeAt(info: Stats): string {
  return new Date(Math.floor(info.mtimeMs / 1000) * 1000).toISOString();
}
