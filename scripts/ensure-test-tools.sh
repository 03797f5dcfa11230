#!/usr/bin/env bash
# The test suite runs against the real age, age-keygen and ssh-keygen. Install
# them from Debian's packages when missing and we are root on Debian; otherwise
# say exactly what to install. Tests never skip for a missing tool.
set -euo pipefail
missing=()
for tool in age age-keygen ssh-keygen; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-test-tools: installing age openssh-client (missing: ${missing[*]})" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq age openssh-client >/dev/null
  exit 0
fi
echo "ensure-test-tools: missing ${missing[*]}; install them first (Debian/Ubuntu: apt-get install -y age openssh-client)" >&2
exit 1
