#!/usr/bin/env bash
# Builds a local stand-in for python:3.11-slim-bookworm from Debian packages, for machines that
# reach Debian's mirror but not Docker Hub (this project's CI machines). Debian bookworm's
# python3 is 3.11, so the Dockerfile builds on it unchanged:
#
#   deploy/image/python-standin.sh                 # as root; needs debootstrap and podman
#   podman build --isolation chroot --network host \
#     --build-arg PYTHON_IMAGE=localhost/python-standin:3.11-slim-bookworm -t localhost/hitl .
#
# Not for production: it only lets the Dockerfile be built and run where the real base image
# cannot be pulled (docs/deploy/compose.md, "Building here").
set -euo pipefail

tag=${1:-localhost/python-standin:3.11-slim-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rootfs=$(mktemp -d)
chmod 755 "$rootfs"  # becomes the image's /, which everyone must be able to enter
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase \
  --include=python3,python3-venv,python-is-python3,ca-certificates \
  bookworm "$rootfs" "$mirror"

# Like the official image: pip in /usr/local, where pip may install (no PEP 668 marker) and
# uninstall (the Dockerfile removes it from the final stage).
rm -f "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
# Debian disables ensurepip; pip installs itself from the wheel python3-venv brings.
chroot "$rootfs" sh -c 'w=$(ls /usr/share/python-wheels/pip-*.whl) &&
  python3 "$w/pip" install --quiet --no-index --no-cache-dir --root-user-action=ignore "$w"'
# Trust the CAs this host trusts (a TLS-inspecting proxy on the way to PyPI, say).
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs"/usr/local/share/ca-certificates/
  chroot "$rootfs" update-ca-certificates >/dev/null
fi
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

tar -C "$rootfs" -c . | podman --storage-driver "${STORAGE_DRIVER:-vfs}" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  - "$tag"
