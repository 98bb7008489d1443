#!/usr/bin/env bash
# Makes a minimal glibc base image from this host's own Node.js 20, npm, git and ssh (with their
# shared libraries) and loads it into the engine DOCKER_HOST names as berth-base:local, for hosts
# that cannot pull the official node image. Usage: image/make-local-base.sh [TAG]
set -euo pipefail
tag="${1:-berth-base:local}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

# The host's merged /usr layout: /bin, /lib, /lib64 and /sbin are links into /usr, as on Debian 12.
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/usr/sbin"
for top in bin lib lib64 sbin; do ln -s "usr/$top" "$root/$top"; done

copy() { # copies files and folders under $root at their real place, and what their symlinks point to
  local path dir real
  for path in "$@"; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    dir="$(readlink -f "$(dirname "$path")")"
    real="$dir/$(basename "$path")"
    mkdir -p "$root$dir"
    [ -e "$root$real" ] || [ -L "$root$real" ] || cp -a "$real" "$root$real"
    if [ -L "$real" ]; then copy "$(readlink -f "$real")"; fi
  done
}
libs() { # the shared libraries a binary needs, and the loader
  ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
}

node_bin="$(readlink -f "$(command -v node)")"
case "$("$node_bin" --version)" in v20.*) ;; *) echo "make-local-base: expected Node.js 20 on this host, found $("$node_bin" --version)" >&2; exit 1 ;; esac
bins=("$node_bin" "$(command -v git)" "$(command -v ssh)" /bin/busybox)
[ -x /bin/busybox ] || { echo "make-local-base: expected Debian's busybox-static (/bin/busybox) for a shell" >&2; exit 1; }
for helper in /usr/lib/git-core/*; do [ -f "$helper" ] && [ -x "$helper" ] && bins+=("$helper"); done
for bin in "${bins[@]}"; do copy "$bin"; for lib in $(libs "$bin"); do copy "$lib"; done; done
copy /usr/lib/git-core /usr/share/git-core /etc/ssl/certs /usr/share/ca-certificates /etc/ca-certificates.conf
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
copy "$(readlink -f "$npm_dir")"
# All of glibc: native modules (libsql) need libraries node itself does not (librt), and glibc
# loads its lookup libraries (users, hosts) at run time, where ldd does not see them.
for lib in $(dpkg -L libc6 | grep -E '\.so(\.[0-9]+)*$'); do copy "$lib"; done

mkdir -p "$root/tmp" "$root/etc" "$root/root"
chmod 1777 "$root/tmp"
for applet in sh ls cat mkdir rm cp mv chmod chown id env wget tar gzip sleep; do ln -sf /bin/busybox "$root/bin/$applet"; done
[ "$node_bin" = /usr/bin/node ] || ln -sf "$node_bin" "$root/usr/bin/node"
ln -sf "$(readlink -f "$npm_dir")/bin/npm-cli.js" "$root/usr/bin/npm"
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' > "$root/etc/group"
printf 'hosts: files dns\npasswd: files\ngroup: files\n' > "$root/etc/nsswitch.conf"
mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"

tar -C "$root" -c . | docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$tag" >/dev/null
echo "$tag"
