#!/bin/sh
# Installs what the Samba AD DC test harness (test/support/samba.ts) needs. Idempotent; runs as root.
# CI calls it before `npm test`; the harness also calls it once when Samba is missing and it runs as root.
set -eu
PKGS="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind ldap-utils openssl"
if command -v samba >/dev/null 2>&1 && command -v samba-tool >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 \
  && [ -d /usr/share/samba/setup ] 2>/dev/null; then
  echo "samba-setup: Samba AD DC already installed ($(samba --version 2>/dev/null || echo unknown version))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "samba-setup: must run as root to install: $PKGS" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "samba-setup: no apt-get here; install $PKGS with this system's package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PKGS
# The package's own smbd/samba services are not wanted: the harness runs its own DC in a temp dir.
for svc in samba-ad-dc smbd nmbd winbind; do
  (systemctl disable --now "$svc" >/dev/null 2>&1 || true)
done
echo "samba-setup: installed $(samba --version)"
