#!/bin/bash
#: Part 1 of first boot: the header users read, the env file, optional settings and the log.
#: Lines starting with '#:' are notes for this repository; k8s-image drops them when it assembles
#: the parts into the one /usr/local/lib/k8s-image/firstboot.sh (the order: src/plan/node-scripts.ts).
# k8s-image first boot: turn this CentOS 7 machine into a Kubernetes node, unattended.
#
# Static file: every value comes from ${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env} (see
# node-files/README.md). Run by k8s-image-firstboot.service. Stages, each recorded as
# $STATE_DIR/<stage>.done so a rerun resumes at the first unfinished one:
#   init:               prepare time images pull before_kubeadm init cni ready after_ready keeper endpoint
#   join-control-plane: prepare time images pull before_kubeadm join ready after_ready  (pull only if the config names images)
#   join:               prepare time images before_kubeadm join ready after_ready  (images only with an offline bundle)
# (before_kubeadm and after_ready run one's own hooks, custom.hooks, when the node has any.)
#   none (lb):          nothing beyond the install
# Before any stage: the install must have finished (INSTALL_MARKER); if it did not, it is rerun here.
# Success leaves $STATE_DIR/bootstrap-success.complete; after that a run does nothing.
# To retry after a failure: fix the cause, then `systemctl start k8s-image-firstboot`.
# With STATUS_URL set, each step is reported to the farm's status server (report.py): in the
# background, so a server that is down or hangs never slows or fails the bootstrap.
# Written for CentOS 7: bash 4.2 (no "${empty_array[@]}" under set -u), systemd 219, curl 7.29.
set -euo pipefail

ENV_FILE=${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image firstboot: cannot read $ENV_FILE (written by the kickstart/cloud-init seed); nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

# Optional settings (not written by the plan): defaults suit real nodes; tests shrink them.
STATE_DIR=${STATE_DIR:-/var/lib/k8s-image}
LOG_FILE=${LOG_FILE:-/var/log/k8s-image/firstboot.log}
MODULES_LOAD_DIR=${MODULES_LOAD_DIR:-/etc/modules-load.d}
RETRIES=${RETRIES:-5}
WAIT_BACKOFF_BASE=${WAIT_BACKOFF_BASE:-5}
WAIT_BACKOFF_MAX=${WAIT_BACKOFF_MAX:-60}
RETRY_BACKOFF_BASE=${RETRY_BACKOFF_BASE:-10}
RETRY_BACKOFF_MAX=${RETRY_BACKOFF_MAX:-120}
POLL_INTERVAL=${POLL_INTERVAL:-5}
READY_DEADLINE=${READY_DEADLINE:-900}
TIME_SYNC_DEADLINE=${TIME_SYNC_DEADLINE:-300}
WAIT_FOR=${WAIT_FOR:-}
CONFIRM_URLS=${CONFIRM_URLS:-}
WAIT_TCP=${WAIT_TCP:-}
INSTALL_SCRIPT=${INSTALL_SCRIPT:-/usr/local/lib/k8s-image/install.sh}
INSTALL_MARKER=${INSTALL_MARKER:-/var/lib/k8s-image/install.done}
INSTALL_LOG=${INSTALL_LOG:-/var/log/k8s-image/install.log}
KEEPER_TIMER=k8s-image-token-keeper.timer
SENTINEL=$STATE_DIR/bootstrap-success.complete
WAIT_DEADLINE=${WAIT_DEADLINE:-604800}
STATUS_URL=${STATUS_URL:-}
REPORTER=${REPORTER:-/usr/local/lib/k8s-image/report.py}
REPORT_PYTHON=${REPORT_PYTHON:-python}
HOOKS_DIR=${HOOKS_DIR:-}
CURRENT_STAGE=startup
STAGE_UNFINISHED=0
NOT_READY=0
# The stages that went on unfinished in this run (pull, after_ready): no sentinel while any is.
UNFINISHED_STAGES=''

umask 022
mkdir -p "$STATE_DIR" "$(dirname "$LOG_FILE")"
# 0600: kubeadm's output is logged (the bootstrap token is redacted, but keep it root's anyway).
touch "$LOG_FILE"
chmod 0600 "$LOG_FILE"
# Everything (our lines and every command's output) goes to the log file and to stdout (the journal).
exec > >(tee -a "$LOG_FILE") 2>&1
