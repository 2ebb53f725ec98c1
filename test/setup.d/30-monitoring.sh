#!/usr/bin/env bash
# What the monitoring tests and scripts/monitor.sh need: VictoriaMetrics (+ vmalert),
# promtool, Alertmanager (+ amtool), node_exporter, curl. Idempotent; quick when present.
# On hosts where Debian's postinst starts these services, stop them: the tests and the
# local stack start their own instances on loopback ports.
set -euo pipefail
need=()
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
command -v vmalert >/dev/null || need+=(victoria-metrics)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u)
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for unit in victoria-metrics prometheus prometheus-alertmanager prometheus-node-exporter; do
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
fi
for bin in victoria-metrics vmalert promtool prometheus-alertmanager amtool prometheus-node-exporter curl; do
  command -v "$bin" >/dev/null || { echo "30-monitoring: $bin is still missing after installing packages" >&2; exit 1; }
done
