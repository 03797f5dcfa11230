#!/usr/bin/env bash
# A Debian root for booting systemd under systemd-nspawn, made once by
# debootstrap and cached (the cache key names the suite and package list).
# Prints the path of the cached root.
set -euo pipefail
# libpam-systemd: user managers get their session (XDG_RUNTIME_DIR) from pam_systemd,
# as on any Debian install with logins (test/system/user-boot.test.ts).
suite=bookworm
packages=systemd,systemd-sysv,dbus,libpam-systemd,libstdc++6,passwd,util-linux,mount
key=$(printf '%s %s v1' "$suite" "$packages" | sha256sum | cut -c1-12)
cache=${AGEBOOT_ROOT_CACHE:-/var/cache/ageboot-test}/debian-$suite-$key
if [ ! -f "$cache/.complete" ]; then
  mkdir -p "$(dirname "$cache")"
  building=$(mktemp -d "$cache.building.XXXXXX")
  echo "make-root: debootstrap $suite into $building (cached at $cache)" >&2
  debootstrap --variant=minbase --include="$packages" "$suite" "$building" http://deb.debian.org/debian >&2
  chmod 0755 "$building" # mktemp made it 0700; it becomes the container's /
  touch "$building/.complete"
  rm -rf "$cache"
  mv "$building" "$cache"
fi
echo "$cache"
