# NixOS VM test (needs Nix with KVM): nix flake check, or
#   nix build .#checks.x86_64-linux.vm              (activation scripts, the default)
#   nix build .#checks.x86_64-linux.vm-systemd      (age.useSystemdActivation, userborn)
#
# What agenix's own integration test covers, in both modes: a login whose
# password hash is a secret (hashedPasswordFile, users.mutableUsers = false),
# owners and modes, a consumer restarted in the same switch that reads the new
# value, symlink = false, a leading-hyphen name, an ASCII-armored file, a
# reboot; plus the host key under /persist (impermanence style) and ramfs.
#
# Every key and value here is a throwaway made for this test (fixtures/).
# The login password is "vm-test-password"; its SHA-512 crypt hash is the
# content of fixtures/root-password-hash.age.
{
  self,
  systemdActivation ? false,
}:
{
  name = if systemdActivation then "ageboot-systemd" else "ageboot";

  nodes.machine =
    { config, lib, pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];

      # The throwaway key reaches /persist before ageboot runs, as a persistent
      # volume would hold it; an activation script, so that it is there both
      # before agenixInstall and before the units (never put a real key in the
      # store). Also a tweak of agenixInstall, which must keep evaluating.
      system.activationScripts.seedTestKey = {
        deps = [ "specialfs" ];
        text = ''
          install -D -m 0600 ${./fixtures/TEST-ONLY-ssh_host_ed25519_key} /persist/etc/ssh/ssh_host_ed25519_key
        '';
      };
      system.activationScripts.agenixInstall.deps = [ "seedTestKey" ];

      services.userborn.enable = systemdActivation;
      age.useSystemdActivation = systemdActivation;

      age.identityPaths = [ "/persist/etc/ssh/ssh_host_ed25519_key" ];
      age.hostPublicKeys = [ ./fixtures/TEST-ONLY-ssh_host_ed25519_key.pub ];

      age.secrets.alice-password = {
        file = ./fixtures/root-password-hash.age;
        # Needed before users exist; with activation scripts every secret is.
        neededForUsers = systemdActivation;
      };
      age.secrets.app-token = {
        file = ./fixtures/app-token.age;
        owner = "app";
        mode = "u=r,g=r,o=";
      };
      age.secrets.linked = {
        file = ./fixtures/app-token.age;
        path = "/etc/app/token";
      };
      age.secrets.copied = {
        file = ./fixtures/app-token.age;
        path = "/etc/app/copied";
        symlink = false;
        owner = "app";
      };
      age.secrets."-hyphen".file = ./fixtures/app-token.age;
      age.secrets.armored = {
        file = ./fixtures/armored.age;
        mode = "0440";
        group = "app";
      };

      users.mutableUsers = false;
      users.users.alice = {
        isNormalUser = true;
        extraGroups = [ "wheel" ];
        hashedPasswordFile = config.age.secrets.alice-password.path;
      };
      users.users.app = {
        isSystemUser = true;
        group = "app";
      };
      users.groups.app = { };

      # A consumer with no ordering of its own, restarted when the secret's
      # file changes: it must read the new value in the same switch.
      systemd.services.consumer = {
        wantedBy = [ "multi-user.target" ];
        restartTriggers = [ config.age.secrets.app-token.file ];
        serviceConfig = {
          User = "app";
          Type = "oneshot";
          RemainAfterExit = true;
          RuntimeDirectory = "consumer";
          RuntimeDirectoryPreserve = true;
        };
        script = "${pkgs.coreutils}/bin/sha256sum < /run/agenix/app-token > /run/consumer/seen";
      };

      specialisation.rotated.configuration = {
        age.secrets.app-token.file = lib.mkForce ./fixtures/app-token-2.age;
      };
    };

  testScript = ''
    # sha256 of the test values: "vm-test-token" and its rotation "vm-test-token-2".
    rotated = "081af64e18f2b5a1526eb87d4581905366db6585c48a6bbff70dd31f8642c8cc"

    def check_secrets():
        machine.wait_for_unit("multi-user.target")
        machine.succeed("systemctl is-active consumer.service")
        assert machine.succeed("findmnt -n -o FSTYPE /run/agenix.d").strip() == "ramfs"
        assert machine.succeed("stat -c '%U:%G:%a' /run/agenix/app-token").strip() == "app:app:440"
        assert machine.succeed("readlink /etc/app/token").strip() == "/run/agenix/linked"
        # symlink = false: a copy with the secret's owner and mode.
        machine.succeed("test -f /etc/app/copied && ! test -L /etc/app/copied")
        assert machine.succeed("stat -c '%U:%a' /etc/app/copied").strip() == "app:400"
        machine.succeed("cat -- /run/agenix/-hyphen > /dev/null")
        assert machine.succeed("cat /run/agenix/armored").strip() == "vm-test-armored"
        assert machine.succeed("stat -c '%U:%G:%a' /run/agenix/armored").strip() == "root:app:440"

    def login_alice():
        machine.wait_until_tty_matches("1", "login: ")
        machine.send_chars("alice\n")
        machine.wait_until_tty_matches("1", "Password: ")
        machine.send_chars("vm-test-password\n")
        machine.wait_until_succeeds("pgrep -u alice -x bash")
        machine.send_chars("exit\n")
        machine.wait_until_fails("pgrep -u alice -x bash")

    machine.start()
    check_secrets()
    ${
      if systemdActivation then
        ''
          machine.succeed("systemctl is-active ageboot.service ageboot-for-users.service")
          assert machine.succeed("stat -c '%U:%a' /run/agenix-for-users/alice-password").strip() == "root:400"
        ''
      else
        ''
          # Installed by the activation script: there is no unit.
          machine.fail("systemctl cat ageboot.service")
        ''
    }

    # A password hash that is a secret, with immutable users.
    login_alice()

    # A switch that rotates a secret: new generation, and the consumer,
    # restarted in the same switch, reads the new value.
    before = machine.succeed("readlink /run/agenix").strip()
    machine.succeed("/run/current-system/specialisation/rotated/bin/switch-to-configuration test")
    after = machine.succeed("readlink /run/agenix").strip()
    assert before != after, f"switch did not make a new generation ({before})"
    machine.succeed(f"sha256sum /run/agenix/app-token | grep -q {rotated}")
    machine.succeed(f"grep -q {rotated} /run/consumer/seen")

    # A switch that changes nothing still runs ageboot (a failed run would be retried).
    machine.succeed("/run/current-system/specialisation/rotated/bin/switch-to-configuration test")
    assert machine.succeed("readlink /run/agenix").strip() != after

    # Reboot: the ramfs is gone, everything comes back before services start.
    machine.shutdown()
    machine.start()
    check_secrets()
    login_alice()
  '';
}
