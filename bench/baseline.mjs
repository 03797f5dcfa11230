// The agenix-style baseline: what agenix's activation script does for each
// secret (modules/age.nix, newGeneration / installSecrets / chownSecrets /
// cleanupAgenix), as a generated shell script with one block per secret:
// one `age --decrypt` process per secret, umask, chmod, mv, then the symlink.
// Like agenix's mountCommand, it mounts a ramfs when none is mounted there
// (the boot case) and uses the one there otherwise (the switch case).
const quote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

export function baselineScript({ secretsDir, mountPoint, identities, secrets }) {
  const identityFlags = identities.map((path) => `-i ${quote(path)}`).join(" ");
  const lines = [
    "set -u",
    `mkdir -p ${quote(mountPoint)}`,
    `chmod 0751 ${quote(mountPoint)}`,
    `grep -q ${quote(`${mountPoint} ramfs`)} /proc/mounts || mount -t ramfs none ${quote(mountPoint)} -o nodev,nosuid,mode=0751`,
    `_agenix_generation="$(basename "$(readlink ${quote(secretsDir)})" 2>/dev/null || echo 0)"`,
    "(( ++_agenix_generation ))",
    `mkdir -p ${quote(mountPoint)}/"$_agenix_generation"`,
    `chmod 0751 ${quote(mountPoint)}/"$_agenix_generation"`,
    `IDENTITIES=(${identityFlags})`,
  ];
  for (const { name, file } of secrets) {
    lines.push(
      `_truePath=${quote(mountPoint)}/"$_agenix_generation"/${quote(name)}`,
      'TMP_FILE="$_truePath.tmp"',
      'mkdir -p "$(dirname "$_truePath")"',
      `(umask u=r,g=,o=; test -f ${quote(file)} || echo '[agenix] WARNING: encrypted file ${file} does not exist!'; LANG=C age --decrypt "\${IDENTITIES[@]}" -o "$TMP_FILE" ${quote(file)})`,
      'chmod 0400 "$TMP_FILE"',
      'mv -f "$TMP_FILE" "$_truePath"',
    );
  }
  lines.push(
    `ln -sfT ${quote(mountPoint)}/"$_agenix_generation" ${quote(secretsDir)}`,
    `chown :0 ${quote(mountPoint)} ${quote(mountPoint)}/"$_agenix_generation"`,
    // cleanupAgenix: remove every generation but the current and previous one.
    `_agenix_generation_prev=$(( _agenix_generation - 1 ))`,
    `find ${quote(mountPoint)} -mindepth 1 -maxdepth 1 -type d ! -name "$_agenix_generation" ! -name "$_agenix_generation_prev" -exec rm -rf {} +`,
  );
  return `${lines.join("\n")}\n`;
}
