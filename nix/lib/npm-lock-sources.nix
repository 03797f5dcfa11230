# The sources of every package in package-lock.json (lockfileVersion 2 or 3),
# as a list, without a `resolved` field.
#
# Pure: it takes nixpkgs' `lib` (nothing from pkgs), so a test evaluates it with
# lib alone (NIXPKGS_LIB, test/privileged/nix-module.test.ts). nix/package.nix turns each
# entry into a fixed-output derivation.
#
# Why no `resolved`: npm on the machines that write this lock runs with
# omit-lockfile-registry-resolved, so the lock names no registry host, and
# this repository writes none either. npm itself finds a registry package from
# its name and version alone (that is what `npm ci` does with this lock), so
# the location of each tarball is the spec `name@version`, given to the npm of
# nixpkgs' nodejs inside a fixed-output derivation; the lock's `integrity` (an
# SRI hash, sha512) is the derivation's output hash, so what is fetched is
# exactly what was locked, whichever registry or mirror served it.
# (Checked alternatives, docs/nixos.md: nixpkgs' fetchurl mirrors.nix has no
# npm site for `mirror://`; importNpmLock fetches only entries that have a
# `resolved` URL and leaves the others to npm, offline in the sandbox;
# prefetch-npm-deps drops packages without a URL `resolved`.)
{ lib }:
lock:
let
  inherit (builtins)
    attrNames
    filter
    match
    ;

  packages = lock.packages or (throw "package-lock.json: no `packages` (lockfileVersion ${toString (lock.lockfileVersion or "?")}); npm 7 or later writes them");

  # "node_modules/a/node_modules/@s/b" -> "@s/b"
  nameFromKey =
    key:
    let
      m = match "(.*/)?node_modules/((@[^/]+/)?[^/]+)" key;
    in
    if m == null then throw "package-lock.json: cannot read a package name from `${key}`" else builtins.elemAt m 1;

  # "@s/b" -> "b": the file name part of a registry tarball, `<base>-<version>.tgz`.
  baseName =
    name:
    let
      m = match "(@[^/]+/)?([^/]+)" name;
    in
    builtins.elemAt m 1;

  isSri = hash: match "(sha512|sha384|sha256)-[A-Za-z0-9+/]+={0,2}" hash != null;

  source =
    key:
    let
      entry = packages.${key};
      name = entry.name or (nameFromKey key);
      version = entry.version or (throw "package-lock.json: `${key}` has no version");
      integrity = entry.integrity or (throw "package-lock.json: `${key}` has no integrity hash");
    in
    if entry ? resolved then
      throw "package-lock.json: `${key}` has a `resolved` field; this lock is written without them (omit-lockfile-registry-resolved), and a non-registry source needs its own fetcher"
    else if !(isSri integrity) then
      throw "package-lock.json: `${key}` has an integrity value that is not a single SRI hash"
    else
      {
        inherit key name version integrity;
        # What npm resolves: the registry package `name` at exactly `version`.
        spec = "${name}@${version}";
        # Where that is on an npm registry, relative to the registry's root
        # (npm's tarball layout), for people and for the test; the build asks
        # npm, which knows its registry.
        tarball = "${name}/-/${baseName name}-${version}.tgz";
        # A store name for the tarball ("@" and "/" are not allowed there).
        storeName = lib.strings.sanitizeDerivationName "${builtins.replaceStrings [ "@" "/" ] [ "" "-" ] name}-${version}.tgz";
      };

  # "" is the project itself; links (workspaces, file: dependencies) and packages
  # bundled inside another package's tarball are not fetched.
  fetched = filter (
    key:
    key != ""
    && !(packages.${key}.link or false)
    && !(packages.${key}.inBundle or false)
  ) (attrNames packages);
in
map source fetched
