#!/usr/bin/env bash
# Installs, with apt-get, the real components the tests start: only what is missing.
set -euo pipefail
packages=(redis-server kamailio kamailio-presence-modules kamailio-utils-modules kamailio-json-modules sip-tester chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
