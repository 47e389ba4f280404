#!/usr/bin/env bash
# Best effort, for .ci/run: a container engine for tests/deploy/test_image.py on this project's
# CI machines (Debian, root, no Docker daemon, Docker Hub out of reach). It installs Debian's
# podman with the two settings these VMs need (docs/deploy/compose.md, "Building here") and
# builds the local stand-in for the Python base image. It never fails CI by itself: a step that
# cannot be done is reported, and the image tests then skip and say why.
set -u
here=$(cd "$(dirname "$0")" && pwd)
standin=localhost/python-standin:3.11-slim-bookworm
say() { printf '== container engine: %s\n' "$*"; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "not root on Debian: not set up (the image tests will skip)"; exit 0
fi
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
  say "installing podman, runc and debootstrap from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq podman runc debootstrap >/dev/null ||
    { say "could not install podman (the image tests will skip)"; exit 0; }
fi
mkdir -p /etc/containers
if ! grep -qs 'driver = "vfs"' /etc/containers/storage.conf; then
  if [ -n "$(podman images -q 2>/dev/null)" ]; then
    say "podman already holds images under another storage driver: left as it is"
  else
    say "storage: vfs (no overlay mounts in these VMs)"
    printf '%s\n' '[storage]' 'driver = "vfs"' 'runroot = "/run/containers/storage"' \
      'graphroot = "/var/lib/containers/storage"' >/etc/containers/storage.conf
  fi
fi
if ! grep -qs 'runtime = "runc"' /etc/containers/containers.conf; then
  say "runtime: runc (crun refuses these VMs' hybrid cgroups), lower default ulimits"
  printf '%s\n' '[containers]' 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]' \
    '[engine]' 'runtime = "runc"' >/etc/containers/containers.conf
fi
if ! podman image exists "$standin" 2>/dev/null &&
   ! podman image exists docker.io/library/python:3.11-slim-bookworm 2>/dev/null; then
  say "building the stand-in base image $standin (a few minutes)"
  timeout 900 bash "$here/python-standin.sh" "$standin" >/dev/null 2>&1 ||
    say "could not build the stand-in base (the image tests will skip)"
fi
say "podman $(podman --version 2>/dev/null | awk '{print $3}'), base images: $(podman images --format '{{.Repository}}' 2>/dev/null | grep -c python || true)"
exit 0
