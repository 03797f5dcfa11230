#!/usr/bin/env bash
# Run the vitest suite as root inside a private mount namespace: privileged
# tests mount ramfs/tmpfs and bind-mount a private /etc/passwd there, and none
# of it is visible to (or can disturb) the rest of the host.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "run-tests: the suite needs root (real mounts and chown); run it as root, e.g. sudo npm test" >&2
  exit 1
fi
AGEBOOT_OUTER_MOUNT_NS=$(readlink /proc/self/ns/mnt)
export AGEBOOT_OUTER_MOUNT_NS
# Property tests run their full count here (npm run test:unit alone runs a tenth, to stay fast).
export AGEBOOT_PROPERTY_RUNS_SCALE=${AGEBOOT_PROPERTY_RUNS_SCALE:-1}
exec unshare --mount --propagation private -- npx vitest run "$@"
