#!/usr/bin/env bash
# Builds the product's container image from the Dockerfile with buildah (no daemon), on the local stand-ins of
# its base images, and tags it with a hash of everything the build reads; an image with that tag is reused.
# Installs the container tools first when they are missing (test/tools/debian-tools.sh). podman and buildah
# use a configuration and an image store of their own under the cache folder, never the machine's.
# Prints the variables for podman (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF) and `IMAGE=<ref>`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${SFO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-fargate-orchestrator}"
export SFO_IMAGE_CACHE="$cache_root/image"
conf="$SFO_IMAGE_CACHE/conf"
mkdir -p "$conf"

bash "$repo/test/tools/debian-tools.sh"

# runc, not crun (crun fails on hosts with hybrid cgroups); no systemd or journald to talk to. Containers'
# default limits must not exceed what runc may set without CAP_SYS_RESOURCE: open files at most this
# process's hard limit, and a modest process count (podman's default asks for more than runc gets).
nofile=$(ulimit -Hn)
nproc=4096
cat >"$conf/containers.conf.tmp" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$SFO_IMAGE_CACHE/events.log"
CONF
cat >"$conf/storage.conf.tmp" <<CONF
[storage]
driver = "overlay"
graphroot = "$SFO_IMAGE_CACHE/storage"
runroot = "$SFO_IMAGE_CACHE/run"
CONF
mv "$conf/containers.conf.tmp" "$conf/containers.conf"
mv "$conf/storage.conf.tmp" "$conf/storage.conf"
export CONTAINERS_CONF="$conf/containers.conf" CONTAINERS_STORAGE_CONF="$conf/storage.conf"
echo "CONTAINERS_CONF=$CONTAINERS_CONF"
echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"

# One build at a time on this machine (several checkouts share the store).
exec 9>"$SFO_IMAGE_CACHE/build.lock"
flock 9

bases=$(bash "$here/base-images.sh")
builder_image=$(sed -n 's/^BUILDER_IMAGE=//p' <<<"$bases")
node_image=$(sed -n 's/^NODE_IMAGE=//p' <<<"$bases")

# What the build context holds (see .dockerignore): the manifests and the runtime sources without tests.
context_files() {
  cd "$repo"
  printf '%s\n' Dockerfile .dockerignore package.json package-lock.json
  find core webhook watcher cli -type f ! -name '*.test.ts' ! -path '*/__snapshots__/*' ! -path '*/fixtures/*'
}
key=$( (echo "$bases"; context_files | LC_ALL=C sort | (cd "$repo" && xargs sha256sum)) | sha256sum | cut -c1-12)
image="localhost/spot-fargate-orchestrator:test-$key"

if ! podman image exists "$image"; then
  echo "[image] building $image" >&2
  start=$SECONDS
  secret=()
  # Registries behind a TLS-inspecting proxy: npm inside the build trusts the same CA bundle as npm here.
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then
    secret=(--secret "id=npm-ca,src=$NODE_EXTRA_CA_CERTS")
  fi
  buildah build --quiet --isolation chroot --layers --force-rm --pull=never \
    --build-arg "BUILDER_IMAGE=$builder_image" --build-arg "NODE_IMAGE=$node_image" \
    "${secret[@]}" --tag "$image" "$repo" >&2
  echo "[image] built $image in $((SECONDS - start))s" >&2
  # Keep the three newest test images, and the build cache (untagged stage images) of the last day.
  podman images --noheading --sort created --format '{{.Repository}}:{{.Tag}}' \
    localhost/spot-fargate-orchestrator | grep ':test-' | tail -n +4 | xargs -r podman rmi --force >/dev/null || true
  podman image prune --force --filter until=24h >/dev/null || true
fi
echo "IMAGE=$image"
