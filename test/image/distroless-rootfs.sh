#!/usr/bin/env bash
# mmdebstrap extract hook ($1: the root filesystem) turning the extracted Debian packages into what the
# distroless nodejs image holds: the CA bundle ca-certificates' own script would make, the users root,
# nobody and nonroot (65532), /tmp and the nonroot home, Node.js at /nodejs/bin/node; and none of the
# shell tools, package-manager state or docs that the packages' dependencies brought along.
set -euo pipefail
root=$1

mkdir -p "$root/etc/ssl/certs"
cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
GROUP
install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
install -d -m 0700 "$root/root"
install -d -m 1777 "$root/tmp"

mkdir -p "$root/nodejs"
tar -xzf "$NODE_TGZ" -C "$root/nodejs" --strip-components=1 package/bin/node package/LICENSE

# Dependencies of ca-certificates (openssl, debconf), the downloaded packages and what mmdebstrap sets up
# for apt and dpkg (it is told to skip its own cleanup).
rm -rf "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/ssl/misc" "$root/usr/share/debconf" \
  "$root/usr/share/perl5" "$root/usr/share/man" "$root/usr/share/lintian" "$root/usr/share/bash-completion" \
  "$root/usr/share/ca-certificates" "$root/etc/apt" "$root/etc/dpkg" "$root/etc/debconf.conf" \
  "$root/etc/ca-certificates" "$root/var/lib/apt" "$root/var/cache/apt" "$root/var/cache/debconf" \
  "$root/var/lib/dpkg" "$root/var/log"
find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
mkdir -p "$root/usr/bin" "$root/usr/sbin"
