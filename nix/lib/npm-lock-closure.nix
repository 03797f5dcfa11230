# The part of package-lock.json (lockfileVersion 2 or 3) that a build needs on
# one platform: the project's `dependencies` (and optionalDependencies), the
# few devDependencies it names as build tools, everything those reach, and of
# that only the packages npm would install on `platform`.
#
# Returns the trimmed lock and package.json (for npm, which installs from them
# offline and finds nothing missing: every dependency it is asked for is there,
# an optional one left out is one npm would have skipped), and the keys kept
# and dropped (for the test and docs/nixos.md).
#
# Pure: nixpkgs' `lib` only, so a test evaluates it with lib alone
# (test/privileged/nix-module.test.ts). nix/package.nix gives it the platform
# npm runs on during the build, and the build tools scripts/build.mjs imports.
#
# What npm does, restated from its documented behaviour (package.json `os`,
# `cpu`, `libc`; node_modules resolution):
# - a package whose `os`/`cpu`/`libc` list does not admit the platform is not
#   installed: if it was optional, npm goes on without it, otherwise npm fails;
#   a list admits a value that it names, or that none of its "!value" entries
#   names when all its entries are negations; "any" admits everything; `libc`
#   only counts on Linux.
# - a dependency `d` of the package at `node_modules/a/node_modules/b` is the
#   first of `node_modules/a/node_modules/b/node_modules/d`,
#   `node_modules/a/node_modules/d`, `node_modules/d` that the lock has.
{ lib }:
{
  # package-lock.json and package.json, as attribute sets (lib.importJSON).
  lock,
  package,
  # { os = "linux"; cpu = "x64"; libc = "glibc"; }: npm's names (process.platform,
  # process.arch, and glibc or musl).
  platform,
  # Names from package.json's devDependencies that the build runs (["esbuild"]).
  buildTools ? [ ],
}:
let
  inherit (builtins)
    attrNames
    elem
    filter
    genericClosure
    head
    isList
    listToAttrs
    match
    ;

  packages = lock.packages or (throw "package-lock.json: no `packages` (lockfileVersion ${toString (lock.lockfileVersion or "?")}); npm 7 or later writes them");
  root = packages."" or (throw "package-lock.json: no root entry (\"\") in `packages`");

  # npm's list check: "!x" entries exclude x; without a positive entry, anything not excluded is admitted.
  admits =
    value: list:
    let
      entries = if isList list then list else [ list ];
      negated = map (entry: lib.removePrefix "!" entry) (filter (lib.hasPrefix "!") entries);
      positive = filter (entry: !(lib.hasPrefix "!" entry)) entries;
    in
    if entries == [ "any" ] then
      true
    else if elem value negated then
      false
    else
      elem value positive || positive == [ ];

  installableHere =
    entry:
    (!(entry ? os) || admits platform.os entry.os)
    && (!(entry ? cpu) || admits platform.cpu entry.cpu)
    && (!(entry ? libc) || platform.os != "linux" || (platform.libc != null && admits platform.libc entry.libc));

  # "node_modules/a/node_modules/@s/b" -> "node_modules/a"; "node_modules/a" -> "".
  parentKey =
    key:
    let
      nested = match "(.*)/node_modules/(@[^/]+/)?[^/]+" key;
    in
    if nested != null then head nested else "";

  # The lock key npm would load `name` from, for the package at `key`, or null.
  resolve =
    key: name:
    let
      candidate = if key == "" then "node_modules/${name}" else "${key}/node_modules/${name}";
    in
    if packages ? ${candidate} then
      candidate
    else if key == "" then
      null
    else
      resolve (parentKey key) name;

  # The dependency edges of one lock entry: name and whether npm may go on without it.
  edges =
    entry:
    let
      named = optional: set: map (name: { inherit name optional; }) (attrNames set);
      peerOptional = name: entry.peerDependenciesMeta.${name}.optional or false;
    in
    named false (entry.dependencies or { })
    ++ named true (entry.optionalDependencies or { })
    ++ map (name: {
      inherit name;
      optional = peerOptional name;
    }) (attrNames (entry.peerDependencies or { }));

  # Where an edge leads on this platform: a key, or null when npm would go on without it.
  follow =
    from: edge:
    let
      to = resolve from edge.name;
      what = if from == "" then "package.json" else "`${from}`";
    in
    if to == null then
      (if edge.optional then null else throw "package-lock.json: ${what} needs `${edge.name}`, which the lock does not have")
    else if packages.${to}.link or false then
      throw "package-lock.json: `${to}` is a link (workspace or file: dependency); this build fetches registry packages only"
    else if installableHere packages.${to} then
      to
    else if edge.optional then
      null
    else
      throw "package-lock.json: ${what} needs `${to}`, which npm does not install on ${platform.os}-${platform.cpu}";

  devDependencies = root.devDependencies or { };
  unknownTools = filter (name: !(devDependencies ? ${name}) && !((root.dependencies or { }) ? ${name})) buildTools;
  keptDevDependencies = lib.filterAttrs (name: _: elem name buildTools) devDependencies;

  rootEdges = edges (
    removeAttrs root [ "devDependencies" ]
    // {
      dependencies = (root.dependencies or { }) // keptDevDependencies;
    }
  );

  reached = genericClosure {
    startSet = map (key: { inherit key; }) (filter (key: key != null) (map (follow "") rootEdges));
    operator = item: map (key: { inherit key; }) (filter (key: key != null) (map (follow item.key) (edges packages.${item.key})));
  };
  kept = map (item: item.key) reached;
  keptSet = listToAttrs (
    map (key: {
      name = key;
      value = true;
    }) kept
  );
  others = filter (key: key != "" && !(keptSet ? ${key})) (attrNames packages);
in
if unknownTools != [ ] then
  throw "npm-lock-closure: build tools not in package.json's dependencies or devDependencies: ${toString unknownTools}"
else
  {
    lock = lock // {
      packages = {
        "" = root // lib.optionalAttrs (root ? devDependencies) { devDependencies = keptDevDependencies; };
      }
      // lib.filterAttrs (key: _: keptSet ? ${key}) packages;
    };
    package = package // lib.optionalAttrs (package ? devDependencies) { devDependencies = lib.filterAttrs (name: _: elem name buildTools) package.devDependencies; };
    kept = lib.sort lib.lessThan kept;
    # Left out because npm does not install them on this platform, or because the build never uses them.
    dropped = {
      platform = filter (key: !(installableHere packages.${key})) others;
      unused = filter (key: installableHere packages.${key}) others;
    };
  }
