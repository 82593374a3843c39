#!/usr/bin/env bash
# The container tools the image tests use, from Debian's packages: buildah (builds the image without a daemon),
# podman (runs it), runc (podman's runtime here: crun fails on hybrid cgroup hosts) and mmdebstrap (builds the
# local stand-ins of the base images). Installs whatever is missing with apt-get (needs root, as on CI);
# does nothing when they are all there.
set -euo pipefail
tools=(buildah podman runc mmdebstrap)
packages=(buildah podman runc mmdebstrap)
missing=()
for tool in "${tools[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "[tools] missing ${missing[*]}: install them with: sudo apt-get install ${packages[*]}" >&2
  exit 1
fi
echo "[tools] installing ${packages[*]} with apt-get (missing: ${missing[*]})" >&2
export DEBIAN_FRONTEND=noninteractive
# other apt runs on the machine (unattended upgrades, a parallel test run) hold the lock for a while
apt_get=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
log=$(mktemp)
if ! { "${apt_get[@]}" update && "${apt_get[@]}" install -y --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "[tools] apt-get install ${packages[*]} failed" >&2
  exit 1
fi
rm -f "$log"
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "[tools] $tool still missing after apt-get install" >&2; exit 1; }
done
