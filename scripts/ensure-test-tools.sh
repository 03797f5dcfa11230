#!/usr/bin/env bash
# The test suite runs against real tools. Install the Debian packages that
# provide missing ones when we are root on Debian; otherwise say exactly what to
# install. Tests never skip for a missing tool.
set -euo pipefail
declare -A package_of=(
  [age]=age [age-keygen]=age [ssh-keygen]=openssh-client
  [flock]=util-linux [unshare]=util-linux [setpriv]=util-linux [mount]=mount
  [systemd-notify]=systemd [python3]=python3 [/usr/bin/time]=time
  [systemd-nspawn]=systemd-container [debootstrap]=debootstrap [nix-instantiate]=nix-bin
  [patchelf]=patchelf [ldd]=libc-bin [chattr]=e2fsprogs
)
missing=()
for tool in "${!package_of[@]}"; do command -v "$tool" >/dev/null || missing+=("${package_of[$tool]}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-test-tools: installing $packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $packages >/dev/null
  exit 0
fi
echo "ensure-test-tools: missing tools; install them first (Debian/Ubuntu: apt-get install -y $packages)" >&2
exit 1
