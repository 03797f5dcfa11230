# ageboot, built from package-lock.json as npm writes it here: without
# `resolved` fields and without a hand-maintained dependency hash.
#
# Only what the build uses is fetched (nix/lib/npm-lock-closure.nix): the
# runtime dependencies, which esbuild bundles into dist/, and esbuild, the one
# devDependency scripts/build.mjs runs, each with what it needs, for the
# platform npm runs on. Not the linters, test runners and type checker, nor
# the native parts for other platforms (docs/nixos.md, "The package").
#
# Each of those locked packages is one fixed-output derivation: the npm of nixpkgs'
# nodejs fetches `name@version` (npm knows its registry; this repository
# names none) and Nix checks the result against the lock's `integrity`.
# nix/lib/npm-lock-sources.nix lists them (pure, tested with lib alone);
# docs/nixos.md says why this and not mirror:// or importNpmLock's fetcher.
# Then the trimmed lock is rewritten with `resolved = "file:<store path>"`
# (nix/lib/npm-lock-files.nix) and installed offline by importNpmLock's
# npmConfigHook, the same shape of input importNpmLock itself produces
# (package.json + package-lock.json).
#
# It runs on nodejs-slim (Node.js without npm and corepack), and its code cache
# is made by that same node binary during the build.
{
  lib,
  stdenv,
  stdenvNoCC,
  runCommand,
  buildNpmPackage,
  importNpmLock,
  nodejs,
  nodejs-slim,
  cacert,
  runtimeShell,
  util-linux,
  systemd,
  getent,
  e2fsprogs,
}:
let
  # npm runs on the build platform, and installs the build tools' native parts (esbuild's binary) for it;
  # what the package runs is JavaScript, bundled.
  npmPlatform = {
    os = stdenv.buildPlatform.node.platform;
    cpu = stdenv.buildPlatform.node.arch;
    libc = if builtins.elem stdenv.buildPlatform.libc [ "glibc" "musl" ] then stdenv.buildPlatform.libc else null;
  };
  needed = import ./lib/npm-lock-closure.nix { inherit lib; } {
    lock = lib.importJSON ../package-lock.json;
    package = lib.importJSON ../package.json;
    platform = npmPlatform;
    # What scripts/build.mjs imports. TypeScript is not needed: esbuild strips the types.
    buildTools = [ "esbuild" ];
  };
  packageJson = needed.package;
  sources = import ./lib/npm-lock-sources.nix { inherit lib; } needed.lock;

  fetchLocked =
    source:
    stdenvNoCC.mkDerivation {
      name = source.storeName;
      inherit (source) spec;
      nativeBuildInputs = [ nodejs ];
      outputHash = source.integrity;
      outputHashMode = "flat";
      # NIX_NPM_REGISTRY (set in the nix-daemon's environment) points npm at a
      # mirror; the hash pins the bytes either way.
      impureEnvVars = lib.fetchers.proxyImpureEnvVars ++ [ "NIX_NPM_REGISTRY" ];
      NODE_EXTRA_CA_CERTS = "${cacert}/etc/ssl/certs/ca-bundle.crt";
      SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
      buildCommand = ''
        export HOME="$TMPDIR" npm_config_cache="$TMPDIR/cache" npm_config_update_notifier=false
        if [ -n "''${NIX_NPM_REGISTRY-}" ]; then export npm_config_registry="$NIX_NPM_REGISTRY"; fi
        mkdir "$TMPDIR/pack"
        # `npm pack SPEC` of a registry package saves the registry's tarball unchanged.
        npm pack --ignore-scripts --silent --pack-destination "$TMPDIR/pack" "$spec" > /dev/null
        mv "$TMPDIR"/pack/*.tgz "$out"
      '';
    };

  tarballs = builtins.listToAttrs (
    map (source: {
      name = source.key;
      value = fetchLocked source;
    }) sources
  );

  withFiles = import ./lib/npm-lock-files.nix { inherit lib; } {
    inherit (needed) lock package;
    tarballs = lib.mapAttrs (_: tarball: "${tarball}") tarballs;
  };

  npmDeps =
    runCommand "ageboot-${packageJson.version}-npm-deps"
      {
        passAsFile = [
          "package"
          "packageLock"
        ];
        package = builtins.toJSON withFiles.package;
        packageLock = builtins.toJSON withFiles.lock;
        passthru = {
          inherit sources tarballs;
          inherit (needed) kept dropped;
        };
      }
      ''
        mkdir $out
        cp "$packagePath" $out/package.json
        cp "$packageLockPath" $out/package-lock.json
      '';
in
buildNpmPackage {
  pname = "ageboot";
  inherit (packageJson) version;
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../tsconfig.build.json
      ../scripts/build.mjs
      ../scripts/launcher.sh
      ../scripts/install-package.sh
      ../src
      # The public demo keys and values: the build activates them once to warm the bundle's code cache.
      ../demo
    ];
  };
  # nixpkgs' default Node.js, not a pinned major version that nixpkgs drops at
  # its end of life.
  inherit nodejs npmDeps;
  npmConfigHook = importNpmLock.npmConfigHook;
  npmBuildScript = "build";
  # The code cache is made, and checked usable, by the node binary the package runs on
  # (scripts/build.mjs); the build's npm comes with nodejs.
  AGEBOOT_CACHE_NODE = "${nodejs-slim}/bin/node";
  # util-linux: flock(1), for the code cache's warm-up activation during the build.
  nativeBuildInputs = [ util-linux ];
  # scripts/install-package.sh, the same install the NixOS-shaped system test
  # runs (test/system/nixos-shaped.test.ts): lib/ageboot/ageboot gets a store
  # bash on its #! line (NixOS makes /bin/sh only after agenixInstall: issue 21,
  # item 1), nodejs-slim's node by store path (it made the code cache, lib/ageboot/cli.cache;
  # another Node.js would refuse it) and its tools' directories first on PATH,
  # all written into the launcher: no variable of the caller's environment
  # chooses them (issue 22, item 4). bin/ageboot links to it.
  installPhase = ''
    runHook preInstall
    bash scripts/install-package.sh "$out" ${nodejs-slim}/bin/node ${runtimeShell} ${
      lib.makeBinPath [
        util-linux
        systemd
        getent
        # chattr(1): every secret file on the tmpfs is made immutable (src/activation/immutable.ts)
        e2fsprogs
      ]
    }
    runHook postInstall
  '';
  passthru = { inherit npmDeps; };
  meta = {
    description = "Decrypt a host's age-encrypted secrets at boot onto memory-backed storage (agenix / sops-nix compatible)";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "ageboot";
  };
}
