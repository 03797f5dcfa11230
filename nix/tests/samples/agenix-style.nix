# A sample configuration, shaped like the values of the NixOS module's age.*
# options (agenix defaults: owner "0", group from the owner), for the pure
# manifest function. CI: nix-instantiate --eval --strict --json, then
# ageboot activate --dry-run on the result.
{ demoDir, keyDir, runDir }:
import ../../lib/manifest.nix {
  secretsDir = "${runDir}/agenix";
  secretsMountPoint = "${runDir}/agenix.d";
  identityPaths = [
    "/persist/etc/ssh/ssh_host_ed25519_key"
    "${keyDir}/ssh_host_ed25519_key"
    "${keyDir}/ssh_host_rsa_key"
  ];
  secrets = {
    db-password = {
      name = "db-password";
      file = "${demoDir}/secrets/db-password.age";
      path = "${runDir}/agenix/db-password";
      mode = "0440";
      owner = "0";
      group = "0";
      symlink = true;
    };
    "services/api-token" = {
      name = "services/api-token";
      file = "${demoDir}/secrets/api-token.age";
      path = "${runDir}/agenix/services/api-token";
      mode = "0400";
      owner = "root";
      group = null;
      symlink = true;
    };
    sops-copy = {
      name = "sops-style";
      file = "${demoDir}/secrets/sops-style.age";
      path = "${runDir}/etc/app/sops-style";
      mode = "0400";
      owner = "0";
      group = "0";
      symlink = false;
    };
  };
}
