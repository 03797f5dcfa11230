# package.json and package-lock.json rewritten so that npm installs from local
# tarballs, offline: each fetched lock entry gets `resolved = "file:<tarball>"`,
# and package.json's direct dependencies name the same tarballs, so that npm
# finds nothing to resolve. The same shape of input nixpkgs' importNpmLock
# produces for its npmConfigHook (pkgs/build-support/node/import-npm-lock/).
#
# Pure (lib only): nix/package.nix gives it store paths, the offline install
# test (test/privileged/nix-npm-install.test.ts) tarballs that npm packed.
{ lib }:
{
  lock,
  package,
  # Lock key ("node_modules/a") -> path of that package's tarball.
  tarballs,
}:
let
  fileSpecs = lib.mapAttrs (
    name: _:
    "file:${tarballs."node_modules/${name}" or (throw "npm-lock-files: no tarball for package.json's `${name}`")}"
  );
in
{
  lock = lock // {
    packages = builtins.mapAttrs (
      key: entry: if tarballs ? ${key} then entry // { resolved = "file:${tarballs.${key}}"; } else entry
    ) lock.packages;
  };
  package =
    package
    // lib.optionalAttrs (package ? dependencies) { dependencies = fileSpecs package.dependencies; }
    // lib.optionalAttrs (package ? devDependencies) { devDependencies = fileSpecs package.devDependencies; };
}
