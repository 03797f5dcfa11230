#!/usr/bin/env bash
# Decrypt the demo secrets with the demo host keys, as a host would at boot.
# Prints names, sizes, modes and digests: never the values themselves.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ageboot=(node "$here/../dist/cli.js")
[ -f "$here/../dist/cli.js" ] || { echo "demo: run 'npm ci' (or 'npm run build') first" >&2; exit 1; }

work=$(mktemp -d /tmp/ageboot-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
# git does not keep mode 0600; a host key must have it, so use private copies.
install -m 0600 "$here"/DEMO-ONLY-ssh_host_ed25519_key "$here"/DEMO-ONLY-ssh_host_rsa_key "$work"/

echo "== ageboot demo (throwaway demo keys and values, see demo/README.md)"
echo "   identity paths: /persist/etc/ssh/ssh_host_ed25519_key (missing here: skipped with a warning),"
echo "                   $work/DEMO-ONLY-ssh_host_ed25519_key, $work/DEMO-ONLY-ssh_host_rsa_key"
for secret in "$here"/secrets/*.age; do
  name=$(basename "$secret" .age)
  "${ageboot[@]}" decrypt \
    -i /persist/etc/ssh/ssh_host_ed25519_key \
    -i "$work/DEMO-ONLY-ssh_host_ed25519_key" \
    -i "$work/DEMO-ONLY-ssh_host_rsa_key" \
    -o "$work/$name" -- "$secret"
  printf '   %-12s %5s bytes  mode %s  sha256 %s\n' "$name" "$(stat -c %s "$work/$name")" "$(stat -c %a "$work/$name")" \
    "$(sha256sum "$work/$name" | cut -c1-16)..."
done
echo "== decrypting a file for another host fails and says why:"
"${ageboot[@]}" decrypt -i "$work/DEMO-ONLY-ssh_host_rsa_key" -o "$work/nope" -- "$here/secrets/db-password.age" || echo "   (exit status $?, as expected)"
