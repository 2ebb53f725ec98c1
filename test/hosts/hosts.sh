#!/usr/bin/env bash
# Test hosts for the Ansible roles: real Debian machines booting systemd, as
# systemd-nspawn containers on a private bridge (how and why: docs/test-hosts.md).
#
#   test/hosts/hosts.sh up [N]     boot 1 master + N-1 workers (default N=3); idempotent
#   test/hosts/hosts.sh down       stop every host, remove mounts/cgroups/bridge, verify
#   test/hosts/hosts.sh status     list hosts; exit 0 only if all answer over ssh
#   test/hosts/hosts.sh mirror NAME give host NAME outbound network (slirp4netns) for
#                                  apt; the roles themselves never need it
#
# Writes an Ansible inventory to test/.work/hosts/inventory.ini (+ group_vars/ for
# tests: Grafana off, generated admin and registration tokens, no apt mirror). The base root is built once
# per package list and cached under /var/cache/ffwatt-test-hosts.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${FFWATT_HOSTS_WORK:-$REPO/test/.work/hosts}
CACHE=${FFWATT_HOSTS_CACHE:-/var/cache/ffwatt-test-hosts}
STATE=${FFWATT_HOSTS_STATE:-/var/lib/ffwatt-test-hosts}
SUITE=bookworm
MIRROR=${FFWATT_HOSTS_MIRROR:-http://deb.debian.org/debian}
BRIDGE=nspbr0
NET=10.231.0
BOOT_TIMEOUT_S=${FFWATT_HOSTS_BOOT_TIMEOUT_S:-90}
STOP_TIMEOUT_S=15

# debootstrap resolves only plain dependencies: it gets the minimal bootable set, and
# apt inside the new root installs everything the roles install, so a converge never
# needs the mirror.
BOOT_PACKAGES=(systemd systemd-sysv dbus openssh-server python3 iproute2 sudo)
BASE_PACKAGES=(
  python3-apt python3-cryptography ca-certificates openssl acl gnupg
  ffmpeg nginx libnginx-mod-rtmp
  victoria-metrics prometheus-alertmanager prometheus prometheus-node-exporter
)

log() { printf 'hosts.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

host_names() { # N -> names, master first
  local n=$1 i
  echo ffw-master
  for ((i = 1; i < n; i++)); do echo "ffw-worker$i"; done
}
host_addr() { # index (0-based) -> address
  echo "$NET.$((11 + $1))"
}
known_hosts() { ls -1 "$STATE/hosts" 2>/dev/null || true; }

ssh_opts() {
  echo -o BatchMode=yes -o ConnectTimeout=2 -o IdentitiesOnly=yes \
    -i "$WORK/id_ed25519" -o UserKnownHostsFile="$WORK/known_hosts" -o StrictHostKeyChecking=yes \
    -o LogLevel=ERROR
}

base_hash() {
  printf '%s\n' "$SUITE" "$MIRROR" "${BOOT_PACKAGES[@]}" -- "${BASE_PACKAGES[@]}" | sha256sum | cut -c1-16
}

ensure_base() {
  BASE="$CACHE/base-$(base_hash)"
  [[ -f $BASE/.ffwatt-base-ok ]] && return 0
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock"
  flock 8
  if [[ ! -f $BASE/.ffwatt-base-ok ]]; then
    local tmp="$BASE.tmp.$$"
    rm -rf "$BASE.tmp."* "$BASE"
    log "building base root $BASE (once; a few minutes)"
    local include
    include=$(IFS=,; echo "${BOOT_PACKAGES[*]}")
    debootstrap --variant=minbase --include="$include" "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
      { cp "$tmp/debootstrap/debootstrap.log" "$CACHE/debootstrap-inner.log" 2>/dev/null || true
        rm -rf "$tmp"; die "debootstrap failed, see $CACHE/debootstrap*.log"; }
    # Not booted: no service starts during these installs (no systemd running).
    systemd-nspawn -q -D "$tmp" -M ffwatt-base-build --register=no --keep-unit --resolv-conf=copy-host \
      env DEBIAN_FRONTEND=noninteractive sh -c \
      "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${BASE_PACKAGES[*]}" \
      >>"$CACHE/debootstrap.log" 2>&1 ||
      { rm -rf "$tmp" /run/systemd/nspawn/propagate/ffwatt-base-build; die "installing packages into the base failed, see $CACHE/debootstrap.log"; }
    # Per-host identity: each host gets its own machine-id and ssh host keys.
    : >"$tmp/etc/machine-id"
    mkdir -p "$tmp/var/lib/dbus"
    ln -sf /etc/machine-id "$tmp/var/lib/dbus/machine-id"
    rm -f "$tmp"/etc/ssh/ssh_host_*
    # prometheus is here only for promtool; a real master does not run it.
    systemctl --root="$tmp" disable prometheus.service >/dev/null 2>&1 || true
    apt-get -o RootDir="$tmp" clean >/dev/null 2>&1 || true
    rm -rf /run/systemd/nspawn/propagate/ffwatt-base-build
    touch "$tmp/.ffwatt-base-ok"
    mv "$tmp" "$BASE"
  fi
  flock -u 8
  exec 8>&-
}

ensure_tools() {
  local t
  for t in debootstrap systemd-nspawn ssh ssh-keygen ip; do
    command -v "$t" >/dev/null || die "$t missing: run test/setup.d/40-test-hosts.sh"
  done
  [[ $EUID -eq 0 ]] || die "must run as root (systemd-nspawn, mounts, bridge)"
}

ensure_key() {
  mkdir -p "$WORK"
  [[ -f $WORK/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C ffwatt-test-hosts -f "$WORK/id_ed25519"
}

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
host_pid() { cat "$STATE/hosts/$1/nspawn.pid" 2>/dev/null || true; }

prepare_root() { # name addr all_hosts_lines
  local name=$1 addr=$2 hosts_lines=$3 d="$STATE/hosts/$1"
  mkdir -p "$d/upper" "$d/work" "$d/root"
  mountpoint -q "$d/root" ||
    mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$d/upper,workdir=$d/work" "$d/root"
  local r="$d/root"
  echo "$name" >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n%s\n' "$hosts_lines" >"$r/etc/hosts"
  [[ -s $r/etc/machine-id ]] || systemd-id128 new >"$r/etc/machine-id"
  mkdir -p "$r/root/.ssh"
  chmod 700 "$r/root/.ssh"
  cp "$WORK/id_ed25519.pub" "$r/root/.ssh/authorized_keys"
  chmod 600 "$r/root/.ssh/authorized_keys"
  ls "$r"/etc/ssh/ssh_host_ed25519_key >/dev/null 2>&1 || ssh-keygen -A -f "$r" >/dev/null
  mkdir -p "$r/etc/systemd/network"
  printf '[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nLinkLocalAddressing=no\n' "$addr" \
    >"$r/etc/systemd/network/10-host0.network"
  : >"$r/etc/resolv.conf"
  systemctl --root="$r" enable systemd-networkd.service ssh.service >/dev/null 2>&1
  echo "$addr" >"$d/addr"
}

boot_host() { # name
  local name=$1 d="$STATE/hosts/$1" c
  for c in systemd unified; do
    [[ -d /sys/fs/cgroup/$c ]] && mkdir -p "/sys/fs/cgroup/$c/nsp-$name"
  done
  (
    for c in systemd unified; do
      [[ -d /sys/fs/cgroup/$c/nsp-$name ]] && echo "$BASHPID" >"/sys/fs/cgroup/$c/nsp-$name/cgroup.procs"
    done
    exec systemd-nspawn -D "$d/root" -M "$name" -b --register=no --keep-unit \
      --network-bridge="$BRIDGE" --console=passive --resolv-conf=off
  ) </dev/null >"$d/console.log" 2>&1 &
  echo $! >"$d/nspawn.pid"
}

wait_ssh() { # name addr
  local name=$1 addr=$2 deadline=$((SECONDS + BOOT_TIMEOUT_S)) pid
  pid=$(host_pid "$name")
  # shellcheck disable=SC2046
  while ((SECONDS < deadline)); do
    pid_alive "$pid" || die "$name: systemd-nspawn exited; see $STATE/hosts/$name/console.log"
    if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == *systemd-nspawn ]] &&
      timeout 20 ssh $(ssh_opts) "root@$addr" systemctl is-system-running --wait >/dev/null 2>&1; then
      return 0
    fi
    # degraded still means booted: is-system-running exits non-zero but answers
    if timeout 5 ssh $(ssh_opts) "root@$addr" true >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$name: no ssh on $addr after ${BOOT_TIMEOUT_S}s; see $STATE/hosts/$name/console.log"
}

write_known_hosts() {
  : >"$WORK/known_hosts"
  local name
  for name in $(known_hosts); do
    printf '%s %s\n' "$(cat "$STATE/hosts/$name/addr")" \
      "$(cut -d' ' -f1,2 "$STATE/hosts/$name/root/etc/ssh/ssh_host_ed25519_key.pub")" >>"$WORK/known_hosts"
  done
}

write_inventory() { # names...
  local inv="$WORK/inventory.ini" name first=1
  {
    echo "# generated by test/hosts/hosts.sh — do not edit"
    echo "[master]"
    for name in "$@"; do
      if ((first)); then
        echo "$name ansible_host=$(cat "$STATE/hosts/$name/addr")"
        first=0
        echo
        echo "[workers]"
        continue
      fi
      echo "$name ansible_host=$(cat "$STATE/hosts/$name/addr")"
    done
    echo
    echo "[all:vars]"
    echo "ansible_user=root"
    echo "ansible_ssh_private_key_file=$WORK/id_ed25519"
    echo "ansible_ssh_common_args='-o UserKnownHostsFile=$WORK/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"
  } >"$inv"
  mkdir -p "$WORK/group_vars"
  # Tokens made once per set of hosts (kept until `down`): the admin token stays on the
  # master, the workers get only the registration token.
  [[ -s $WORK/admin-token ]] || (umask 077; openssl rand -hex 24 >"$WORK/admin-token")
  [[ -s $WORK/registration-token ]] || (umask 077; openssl rand -hex 24 >"$WORK/registration-token")
  cat >"$WORK/group_vars/all.yml" <<EOF
# generated by test/hosts/hosts.sh for the Ansible tests — do not edit
ffwatt_master_host: "$1"
ffwatt_registration_token: "$(cat "$WORK/registration-token")"
# the test hosts reach no package mirror: everything is in the base root
ffwatt_apt_update_cache: false
ffwatt_bundle_path: "$REPO/dist/ffwatt-bundle.tar.gz"
EOF
  cat >"$WORK/group_vars/master.yml" <<EOF
# generated by test/hosts/hosts.sh
ffwatt_api_token: "$(cat "$WORK/admin-token")"
# Grafana's apt repository is unreachable from test hosts
ffwatt_grafana_enabled: false
# tests query VictoriaMetrics from the box
ffwatt_vm_listen_address: "$(cat "$STATE/hosts/$1/addr")"
EOF
  cat >"$WORK/group_vars/workers.yml" <<EOF
# generated by test/hosts/hosts.sh
ffwatt_node_exporter_enabled: true
EOF
  # per-host cost figures on the first worker (they reach the master as node labels)
  mkdir -p "$WORK/host_vars"
  if [[ $# -ge 2 ]]; then
    cat >"$WORK/host_vars/$2.yml" <<EOF
# generated by test/hosts/hosts.sh
ffwatt_electricity_price_per_kwh: 0.31
ffwatt_instance_cost_per_hour: 0.5
EOF
  fi
}

cmd_up() {
  local n=${1:-3}
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 20)) || die "N must be 1..20, got '$n'"
  ensure_tools
  # Any failure below (set -e, die, a signal) leaves through EXIT: tear down then.
  trap 'rc=$?; if ((rc != 0)); then trap - EXIT; log "up failed; tearing down"; cmd_down || true; exit "$rc"; fi' EXIT
  trap 'exit 130' INT TERM
  ensure_base
  ensure_key
  ensure_bridge
  mkdir -p "$STATE/hosts"
  local names=() name i hosts_lines=""
  mapfile -t names < <(host_names "$n")
  for i in "${!names[@]}"; do hosts_lines+="$(host_addr "$i") ${names[$i]}"$'\n'; done
  for i in "${!names[@]}"; do
    name=${names[$i]}
    if pid_alive "$(host_pid "$name")"; then continue; fi
    prepare_root "$name" "$(host_addr "$i")" "$hosts_lines"
    boot_host "$name"
  done
  write_known_hosts
  for i in "${!names[@]}"; do wait_ssh "${names[$i]}" "$(host_addr "$i")"; done
  write_inventory "${names[@]}"
  trap - EXIT INT TERM
  log "up: ${names[*]} (inventory: $WORK/inventory.ini)"
}

stop_host() { # name
  local name=$1 d="$STATE/hosts/$1" pid spid c i
  pid=$(host_pid "$name")
  for spid in $(cat "$d/slirp.pid" 2>/dev/null); do
    if pid_alive "$spid"; then
      kill -TERM "$spid" 2>/dev/null || true
      for ((i = 0; i < 30; i++)); do pid_alive "$spid" || break; sleep 0.1; done
      pid_alive "$spid" && kill -KILL "$spid" 2>/dev/null
      sleep 0.1
      pid_alive "$spid" && { log "$name: slirp4netns $spid survives"; LEFT_BEHIND=1; }
    fi
  done
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      log "$name: no clean halt in ${STOP_TIMEOUT_S}s, killing"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    fi
    pid_alive "$pid" && { log "$name: systemd-nspawn $pid survives"; LEFT_BEHIND=1; }
  fi
  # anything left in the host's cgroups (processes nspawn did not take down)
  for c in systemd unified; do
    if [[ -d /sys/fs/cgroup/$c/nsp-$name ]]; then
      find "/sys/fs/cgroup/$c/nsp-$name" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    fi
  done
  sleep 0.2
  for c in systemd unified; do
    [[ -d /sys/fs/cgroup/$c/nsp-$name ]] &&
      find "/sys/fs/cgroup/$c/nsp-$name" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "/run/systemd/nspawn/propagate/$name"
  if mountpoint -q "$d/root"; then umount "$d/root" || umount -l "$d/root"; fi
  if ! grep -q " $d/" /proc/mounts; then rm -rf "$d"; else log "$name: still mounted, left $d"; fi
}

LEFT_BEHIND=0
verify_clean() {
  local bad=$LEFT_BEHIND
  if pgrep -x systemd-nspawn >/dev/null || pgrep -x slirp4netns >/dev/null; then
    # only ours count: every nspawn we start runs with -D under $STATE
    if pgrep -af 'systemd-nspawn|slirp4netns' | grep -q "$STATE"; then log "processes remain"; bad=1; fi
  fi
  grep -q " $STATE/" /proc/mounts && { log "mounts remain under $STATE"; bad=1; }
  ip link show "$BRIDGE" >/dev/null 2>&1 && { log "bridge $BRIDGE remains"; bad=1; }
  compgen -G '/sys/fs/cgroup/*/nsp-*' >/dev/null && { log "nsp-* cgroups remain"; bad=1; }
  return $bad
}

cmd_down() {
  [[ $EUID -eq 0 ]] || die "must run as root"
  local name
  for name in $(known_hosts); do stop_host "$name"; done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
  rm -f "$WORK/inventory.ini" "$WORK/known_hosts"
  rm -rf "$WORK/group_vars" "$WORK/host_vars" "$WORK/admin-token" "$WORK/registration-token"
  verify_clean || die "teardown incomplete"
  log "down: clean"
}

cmd_mirror() { # name
  local name=${1:-} d pid init spid
  [[ -n $name && -d $STATE/hosts/$name ]] || die "mirror: unknown host '$name' (see: $0 status)"
  command -v slirp4netns >/dev/null || die "slirp4netns missing: run test/setup.d/40-test-hosts.sh"
  d="$STATE/hosts/$name"
  pid=$(host_pid "$name")
  pid_alive "$pid" || die "mirror: $name is not running"
  for spid in $(cat "$d/slirp.pid" 2>/dev/null); do pid_alive "$spid" && { log "$name already has outbound network"; return 0; }; done
  init=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{print $1; exit}')
  [[ -n $init ]] || die "mirror: no init process under nspawn pid $pid"
  slirp4netns --configure --mtu=65520 --disable-host-loopback "$init" tap0 >"$d/slirp.log" 2>&1 &
  echo $! >>"$d/slirp.pid"
  echo 'nameserver 10.0.2.3' >"$d/root/etc/resolv.conf"
  log "$name: outbound network through slirp4netns (pid $!)"
}

cmd_status() {
  local name addr ok=0 any=0
  for name in $(known_hosts); do
    any=1
    addr=$(cat "$STATE/hosts/$name/addr" 2>/dev/null || echo '?')
    # shellcheck disable=SC2046
    if pid_alive "$(host_pid "$name")" && timeout 5 ssh $(ssh_opts) "root@$addr" true 2>/dev/null; then
      echo "$name $addr up"
    else
      echo "$name $addr down"
      ok=1
    fi
  done
  ((any)) || { echo "no hosts"; return 1; }
  return $ok
}

case ${1:-} in
  up) cmd_up "${2:-3}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  mirror) cmd_mirror "${2:-}" ;;
  *) echo "usage: $0 up [N] | down | status | mirror NAME" >&2; exit 2 ;;
esac
