#!/usr/bin/env bash
# Tools for the Ansible tests on systemd-nspawn test hosts (test/hosts/hosts.sh).
# Idempotent; quick when everything is present.
set -euo pipefail
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ansible-playbook >/dev/null || need+=(ansible)
command -v ansible-lint >/dev/null || need+=(ansible-lint)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
# the roles' validate: checkers also run on the control node in tests (syntax, lint)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${need[@]}"
fi
# community.crypto / community.general come with Debian's ansible package
ansible-galaxy collection list community.crypto >/dev/null 2>&1 ||
  { echo "40-test-hosts: community.crypto collection missing (Debian's ansible package ships it)" >&2; exit 1; }
