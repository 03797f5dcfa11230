#!/usr/bin/env bash
# The main job on the built-in demo: activate the demo secrets with the demo host
# key, as a host does at boot, then a rotation and a failed run. As root this
# happens on a real memory mount (a noswap tmpfs, or a ramfs) inside a private mount namespace (nothing is left on
# the host); otherwise in a temporary plain directory, which ageboot only allows
# with its loudly named development option.
# Prints names, owners, modes and sizes: never the values themselves.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ageboot="$here/../dist/ageboot"
[ -x "$ageboot" ] || { echo "demo: run 'npm ci' (or 'npm run build') first" >&2; exit 1; }

if [ "$(id -u)" = 0 ] && [ -z "${AGEBOOT_DEMO_INSIDE:-}" ] && command -v unshare >/dev/null; then
  AGEBOOT_DEMO_INSIDE=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ageboot-demo.XXXXXX")
trap 'umount "$work/run/agenix.d" 2>/dev/null || true; rm -rf "$work"' EXIT
# git does not keep mode 0600; a host key must have it, so use private copies.
mkdir -p "$work/etc/ssh"
install -m 0600 "$here/DEMO-ONLY-ssh_host_ed25519_key" "$work/etc/ssh/ssh_host_ed25519_key"
install -m 0600 "$here/DEMO-ONLY-ssh_host_rsa_key" "$work/etc/ssh/ssh_host_rsa_key"
# Ciphertexts too: activation refuses a file in a directory that a user other than root
# can write (docs/activation.md), and a checkout usually belongs to its user.
mkdir -p "$work/secrets"
install -m 0644 "$here"/secrets/*.age "$work/secrets/"
extra=()
if [ -z "${AGEBOOT_DEMO_INSIDE:-}" ]; then
  echo "demo: not root, so no ramfs: using --insecure-plain-directory in $work (development only)"
  extra=(--insecure-plain-directory)
fi
# As root, one secret goes to "nobody" to show chown; without root every file stays ours.
owner=$( [ "$(id -u)" = 0 ] && echo nobody || id -un )
default_owner=$( [ "$(id -u)" = 0 ] && echo root || id -un )

manifest() { # $1: which file db-password comes from
  cat > "$work/manifest.yaml" <<YAML
version: 1
secretsDir: $work/run/agenix
secretsMountPoint: $work/run/agenix.d
identityPaths:
  - $work/persist/etc/ssh/ssh_host_ed25519_key   # impermanence location: missing here, skipped
  - $work/etc/ssh/ssh_host_ed25519_key
  - $work/etc/ssh/ssh_host_rsa_key
secrets:
  db-password:
    file: $1
    owner: $owner
    mode: "0440"
  services/api-token:
    file: $work/secrets/api-token.age
    owner: $default_owner
  sops-style:
    file: $work/secrets/sops-style.age
    owner: $default_owner
    path: $work/etc/app/sops-style
YAML
}

show() {
  echo "   $work/run/agenix -> $(readlink "$work/run/agenix")"
  (cd "$work/run/agenix" && find . -type f -printf '   %-24P %u:%g %m %s bytes\n' | sort)
  echo "   custom path $work/etc/app/sops-style -> $(readlink "$work/etc/app/sops-style")"
}

echo "== 1. first activation (throwaway demo keys and values, see demo/README.md)"
manifest "$work/secrets/db-password.age"
"$ageboot" activate --manifest "$work/manifest.yaml" "${extra[@]}"
show
echo "== 2. rotation: db-password now comes from another file"
manifest "$work/secrets/sops-style.age"
"$ageboot" activate --manifest "$work/manifest.yaml" "${extra[@]}"
show
echo "== 3. a broken secret: the run fails, and generation 2 stays current"
head -c 100 "$work/secrets/db-password.age" > "$work/truncated.age"
manifest "$work/truncated.age"
"$ageboot" activate --manifest "$work/manifest.yaml" "${extra[@]}" || echo "   (exit status $?, as expected)"
show
