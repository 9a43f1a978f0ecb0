#!/usr/bin/env bash
# Installs with apt-get the real components the end-to-end tests start
# (shared/design.md section 8), and only those that are missing, so it is cheap
# to run before every CI job. Works as root or through sudo and never prompts.
# `apt-get update` runs only when something has to be installed.
#
# Without these, the suites skip (or fail with CI=true); see test/support/components.ts.
set -euo pipefail

packages=(
  redis-server
  kamailio
  kamailio-presence-modules
  kamailio-utils-modules
  kamailio-json-modules
  kamailio-tls-modules
  sip-tester
  chromium
  # promtool, to evaluate k8s/monitoring/alerts.yaml as Prometheus does.
  prometheus
)

die() {
  echo "install-test-deps: $*" >&2
  exit 1
}

# Not a system package: the Docker image's Node, from the npm registry into the checkout. Without it only
# test/e2e/image.test.ts cannot run (and fails with CI=true), so the system packages still install.
"$(dirname "$0")/install-node.sh" || echo "install-test-deps: could not fetch the image's Node (scripts/install-node.sh); carrying on" >&2

command -v dpkg-query >/dev/null && command -v apt-get >/dev/null ||
  die "needs a Debian-based system (dpkg-query and apt-get); install by hand: ${packages[*]}"

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all present (${packages[*]})"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo; as root run: apt-get install ${missing[*]}"
  # -n: fail instead of waiting for a password nobody will type (CI).
  if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
fi

# Through env: sudo resets the environment, so a plain prefix would be lost.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get -q -y
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# redis-server, kamailio and prometheus are daemons: installed where systemd runs, each would start at
# once and at every boot (kamailio and prometheus listening on every interface). The tests start their
# own on free loopback ports, so none is started while installing (policy-rc.d answering 101, "action
# forbidden", which invoke-rc.d and deb-systemd-invoke obey), and those installed here are not enabled.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# install-test-deps: no daemon starts while test components install\nexit 101\n' |
    "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi

echo "install-test-deps: installing ${missing[*]}"
"${apt[@]}" update
"${apt[@]}" install --no-install-recommends "${missing[@]}"

if [ -d /run/systemd/system ]; then
  for unit in redis-server kamailio prometheus; do
    case " ${missing[*]} " in *" $unit "*) "${as_root[@]}" systemctl disable --now "$unit.service" >/dev/null 2>&1 || true ;; esac
  done
fi

still=()
for p in "${missing[@]}"; do
  is_installed "$p" || still+=("$p")
done
[ ${#still[@]} -eq 0 ] || die "still missing after apt-get: ${still[*]}"

# The binaries the harness looks for (kamailio lives in /usr/sbin).
for bin in redis-server kamailio sipp chromium promtool; do
  PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$bin" >/dev/null || die "package installed but no $bin executable"
done
echo "install-test-deps: done"
