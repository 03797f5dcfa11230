# ageboot, built from package-lock.json with importNpmLock: no hand-maintained
# dependency hash (nixpkgs >= 24.05).
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_20,
  makeWrapper,
  util-linux,
  systemd,
  getent,
}:
let
  packageJson = lib.importJSON ../package.json;
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
      ../src
      # The public demo keys and values: the build activates them once to warm the start-up snapshot.
      ../demo
    ];
  };
  nodejs = nodejs_20;
  npmDeps = importNpmLock { npmRoot = ../.; };
  npmConfigHook = importNpmLock.npmConfigHook;
  npmBuildScript = "build";
  # util-linux: flock(1), for the snapshot's warm-up activation during the build.
  nativeBuildInputs = [ makeWrapper util-linux ];
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/ageboot $out/bin
    cp -r dist/. $out/lib/ageboot/
    # The launcher starts node from the start-up snapshot (lib/ageboot/ageboot.blob),
    # built above by this same nodejs_20, so it always loads.
    makeWrapper $out/lib/ageboot/ageboot $out/bin/ageboot \
      --set AGEBOOT_NODE ${nodejs_20}/bin/node \
      --prefix PATH : ${lib.makeBinPath [ util-linux systemd getent ]}
    runHook postInstall
  '';
  meta = {
    description = "Decrypt a host's age-encrypted secrets at boot onto memory-backed storage (agenix / sops-nix compatible)";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "ageboot";
  };
}
