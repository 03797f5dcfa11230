#!/usr/bin/env bash
# Usage: private-etc.sh ETC FILES WORK
# In the caller's private mount namespace: an overlay over ETC whose upper
# layer holds the files in FILES (passwd, group, ...), on a tmpfs mounted at
# WORK. Every other file of ETC shows through from the host.
#
# Why an overlay over the directory, not a bind mount over each file: tools
# that add a user (useradd, a package's postinst) write /etc/passwd+ and rename
# it over /etc/passwd. A rename over a dentry that is a mount point in another
# namespace detaches those mounts in every namespace (Linux 3.18+), so a bind
# mount of a private /etc/passwd vanished at the first host useradd, and every
# later privileged test file lost its users. Nothing renames /etc itself.
# Mounts below ETC (a container's /etc/hosts, /etc/resolv.conf) are bound
# again over the overlay, which would otherwise show what is beneath them.
set -euo pipefail
etc=$1 files=$2 work=$3
mkdir -p "$work"
mount -t tmpfs -o mode=0755,size=16m ageboot-test-etc "$work"
mkdir "$work/upper" "$work/work" "$work/host"
cp -a "$files/." "$work/upper/"
chmod 0644 "$work/upper/"*
mapfile -t submounts < <(awk -v etc="$etc/" 'index($5, etc) == 1 { print $5 }' /proc/self/mountinfo)
if [ "${#submounts[@]}" -gt 0 ]; then mount --rbind "$etc" "$work/host"; fi
mount -t overlay -o "lowerdir=$etc,upperdir=$work/upper,workdir=$work/work" ageboot-test-etc "$etc"
for submount in "${submounts[@]}"; do
  # A file the overlay's upper layer replaces stays the private one.
  [ -e "$files/${submount#"$etc/"}" ] && continue
  mount --bind "$work/host/${submount#"$etc/"}" "$submount"
done
