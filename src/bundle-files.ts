/**
 * A file that ships beside the bundle in dist/ (the staging worker). The bundle
 * is CommonJS loaded through node:vm (src/code-cache/load.ts); the build defines
 * import.meta.url there as the bundle's own file URL (scripts/build.mjs).
 */
export function bundleFile(name: string): URL {
  return new URL(`./${name}`, import.meta.url);
}
