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
      ../src
    ];
  };
  nodejs = nodejs_20;
  npmDeps = importNpmLock { npmRoot = ../.; };
  npmConfigHook = importNpmLock.npmConfigHook;
  npmBuildScript = "build";
  nativeBuildInputs = [ makeWrapper ];
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/ageboot $out/bin
    cp -r dist/. $out/lib/ageboot/
    makeWrapper ${nodejs_20}/bin/node $out/bin/ageboot \
      --add-flags $out/lib/ageboot/cli.js \
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
