#!/usr/bin/env bash
# Local monitoring stack for ffwatt: VictoriaMetrics, vmalert, Alertmanager (and
# node_exporter) on loopback, with the configs from monitoring/ and all state under
# results/monitor/. It scrapes the local harness' exporters:
#   agent  127.0.0.1:9464   (FFWATT_AGENT_ADDR)
#   master 127.0.0.1:9465   (FFWATT_MASTER_ADDR)
# Usage: scripts/monitor.sh start|stop|status
# Environment (all optional):
#   FFWATT_MONITOR_DIR      state folder (default: results/monitor in the repository)
#   FFWATT_VM_ADDR          VictoriaMetrics listen address (127.0.0.1:8428)
#   FFWATT_VMALERT_ADDR     vmalert listen address (127.0.0.1:8880)
#   FFWATT_AM_ADDR          Alertmanager listen address (127.0.0.1:9093)
#   FFWATT_NODE_EXPORTER_ADDR node_exporter listen address (127.0.0.1:9100); "off" to skip it
#   FFWATT_SCRAPE_INTERVAL  scrape interval (15s)
#   FFWATT_NODE_ID          node label of the local agent (local-<hostname>, as local mode registers)
# Exit codes: 0 ok; 1 a daemon failed to start or is not running (status); 2 bad usage/input.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MON="$ROOT/monitoring"
DIR="${FFWATT_MONITOR_DIR:-$ROOT/results/monitor}"
AGENT_ADDR="${FFWATT_AGENT_ADDR:-127.0.0.1:9464}"
MASTER_ADDR="${FFWATT_MASTER_ADDR:-127.0.0.1:9465}"
VM_ADDR="${FFWATT_VM_ADDR:-127.0.0.1:8428}"
VMALERT_ADDR="${FFWATT_VMALERT_ADDR:-127.0.0.1:8880}"
AM_ADDR="${FFWATT_AM_ADDR:-127.0.0.1:9093}"
NODE_ADDR="${FFWATT_NODE_EXPORTER_ADDR:-127.0.0.1:9100}"
SCRAPE_INTERVAL="${FFWATT_SCRAPE_INTERVAL:-15s}"
# The node id local mode registers under (harness/local.ts localNodeId), so the agent's
# series and the master's per-run series carry the same `node`.
NODE_ID="${FFWATT_NODE_ID:-local-$(hostname)}"

DAEMONS=(victoria-metrics alertmanager vmalert)
[[ "$NODE_ADDR" != off ]] && DAEMONS+=(node-exporter)

die() { echo "monitor: $1" >&2; exit "${2:-1}"; }

check_loopback() { # name value
  [[ "$2" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]] ||
    die "$1=$2 is not a loopback HOST:PORT: the local stack listens on 127.0.0.0/8 only (e.g. 127.0.0.1:8428)" 2
}

pidfile() { echo "$DIR/run/$1.pid"; }

running() { # name -> 0 if its pid is alive
  local f; f="$(pidfile "$1")"
  [[ -s "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

health_url() {
  case "$1" in
    victoria-metrics) echo "http://$VM_ADDR/health" ;;
    vmalert) echo "http://$VMALERT_ADDR/health" ;;
    alertmanager) echo "http://$AM_ADDR/-/ready" ;;
    node-exporter) echo "http://$NODE_ADDR/metrics" ;;
  esac
}

healthy() { curl -fsS -o /dev/null --max-time 2 "$(health_url "$1")" 2>/dev/null; }

binary() {
  case "$1" in
    victoria-metrics) echo victoria-metrics ;;
    vmalert) echo vmalert ;;
    alertmanager) echo prometheus-alertmanager ;;
    node-exporter) echo prometheus-node-exporter ;;
  esac
}

write_config() {
  mkdir -p "$DIR/config/targets" "$DIR/run" "$DIR/logs" "$DIR/data"
  sed -e "s/^  scrape_interval: .*/  scrape_interval: $SCRAPE_INTERVAL/" "$MON/victoria-metrics/scrape.yml" >"$DIR/config/scrape.yml"
  cat >"$DIR/config/targets/agents.json" <<JSON
[{"targets": ["$AGENT_ADDR"], "labels": {"node": "$NODE_ID", "group": "hybrid"}}]
JSON
  cat >"$DIR/config/targets/master.json" <<JSON
[{"targets": ["$MASTER_ADDR"], "labels": {"host": "$(hostname)", "group": "master"}}]
JSON
  if [[ "$NODE_ADDR" != off ]]; then
    cat >"$DIR/config/targets/nodes.json" <<JSON
[{"targets": ["$NODE_ADDR"], "labels": {"node": "$NODE_ID", "group": "hybrid"}}]
JSON
  else
    echo '[]' >"$DIR/config/targets/nodes.json"
  fi
  cat >"$DIR/config/targets/monitoring.json" <<JSON
[{"targets": ["$VM_ADDR"], "labels": {"host": "$(hostname)", "service": "victoria-metrics"}},
 {"targets": ["$VMALERT_ADDR"], "labels": {"host": "$(hostname)", "service": "vmalert"}},
 {"targets": ["$AM_ADDR"], "labels": {"host": "$(hostname)", "service": "alertmanager"}}]
JSON
  victoria-metrics -promscrape.config="$DIR/config/scrape.yml" -dryRun -loggerLevel=ERROR ||
    die "the scrape config $DIR/config/scrape.yml does not pass victoria-metrics -dryRun"
}

args_for() {
  case "$1" in
    victoria-metrics) echo "-httpListenAddr=$VM_ADDR -storageDataPath=$DIR/data/victoria-metrics -retentionPeriod=30d -promscrape.config=$DIR/config/scrape.yml -search.latencyOffset=1s" ;;
    alertmanager) echo "--config.file=$MON/alertmanager/alertmanager.yml --storage.path=$DIR/data/alertmanager --web.listen-address=$AM_ADDR --cluster.listen-address=" ;;
    vmalert) echo "-rule=$MON/vmalert/records.yml -rule=$MON/vmalert/alerts.yml -datasource.url=http://$VM_ADDR -remoteWrite.url=http://$VM_ADDR -remoteRead.url=http://$VM_ADDR -notifier.url=http://$AM_ADDR -httpListenAddr=$VMALERT_ADDR -evaluationInterval=15s" ;;
    node-exporter) echo "--web.listen-address=$NODE_ADDR --collector.disable-defaults --collector.filesystem --collector.cpu --collector.meminfo --collector.loadavg" ;;
  esac
}

start_one() {
  local name="$1" bin; bin="$(binary "$name")"
  if running "$name"; then echo "$name: already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  # shellcheck disable=SC2046  # the argument list is built above without spaces inside values
  "$bin" $(args_for "$name") >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  disown
  local i
  for ((i = 0; i < 60; i++)); do
    if healthy "$name"; then echo "$name: started (pid $!) on $(health_url "$name")"; return 0; fi
    kill -0 "$!" 2>/dev/null || break
    sleep 0.5
  done
  echo "monitor: $name did not become healthy; last log lines ($DIR/logs/$name.log):" >&2
  tail -n 20 "$DIR/logs/$name.log" >&2 || true
  return 1
}

stop_one() {
  local name="$1" f pid i; f="$(pidfile "$name")"
  if ! running "$name"; then rm -f "$f"; echo "$name: not running"; return 0; fi
  pid="$(cat "$f")"
  kill -TERM "$pid"
  for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$f"
  echo "$name: stopped"
}

cmd_start() {
  for v in AGENT_ADDR MASTER_ADDR VM_ADDR VMALERT_ADDR AM_ADDR; do check_loopback "FFWATT_$v" "${!v}"; done
  [[ "$NODE_ADDR" == off ]] || check_loopback FFWATT_NODE_EXPORTER_ADDR "$NODE_ADDR"
  for name in "${DAEMONS[@]}"; do
    command -v "$(binary "$name")" >/dev/null ||
      die "$(binary "$name") not found: run test/setup.d/30-monitoring.sh (installs victoria-metrics prometheus-alertmanager prometheus-node-exporter)" 2
  done
  command -v curl >/dev/null || die "curl not found: apt-get install -y --no-install-recommends curl" 2
  write_config
  local failed=0
  for name in "${DAEMONS[@]}"; do start_one "$name" || failed=1; done
  if ((failed)); then die "some daemons failed to start; 'scripts/monitor.sh stop' cleans up"; fi
  echo "VictoriaMetrics: http://$VM_ADDR/vmui   vmalert: http://$VMALERT_ADDR   Alertmanager: http://$AM_ADDR"
  echo "scraping agent $AGENT_ADDR and master $MASTER_ADDR; state in $DIR"
}

cmd_stop() {
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_one "${DAEMONS[i]}"; done
}

cmd_status() {
  local bad=0 name
  for name in "${DAEMONS[@]}"; do
    if running "$name" && healthy "$name"; then
      echo "$name: running (pid $(cat "$(pidfile "$name")")) $(health_url "$name")"
    elif running "$name"; then
      echo "$name: running (pid $(cat "$(pidfile "$name")")) but not healthy at $(health_url "$name")"; bad=1
    else
      echo "$name: stopped"; bad=1
    fi
  done
  return "$bad"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: scripts/monitor.sh start|stop|status" 2 ;;
esac
