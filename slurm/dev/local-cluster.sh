#!/usr/bin/env bash
# A real SLURM on this machine (slurmctld + slurmd, plus munged when none is running), for
# the SLURM tests and for trying `canids-submit --executor slurm` on a laptop; one node, or
# several nodes each in its own network, UTS, PID and mount namespaces (CANIDS_SLURM_NODES).
#
#   slurm/dev/local-cluster.sh install   # apt-get the Debian packages when missing (root)
#   slurm/dev/local-cluster.sh start     # prints the `export SLURM_CONF=...` line to use
#   slurm/dev/local-cluster.sh status    # daemons, munge, sinfo and squeue
#   slurm/dev/local-cluster.sh stop      # stops exactly the daemons `start` started
#   slurm/dev/local-cluster.sh munge     # a munged that no cluster's `stop` ends (root)
#
#   eval "$(slurm/dev/local-cluster.sh start)"   # start, and point this shell at it
#   eval "$(CANIDS_SLURM_NODES=2 CANIDS_SLURM_DIR=/tmp/canids-slurm2 slurm/dev/local-cluster.sh start)"
#                                                # two nodes, node1 and node2 (see below)
#
# Everything lives in CANIDS_SLURM_DIR (default /tmp/canids-slurm): slurm.conf,
# cgroup.conf, controller state, slurmd spool, logs, pid files, and the job completion log
# that `sacct -c` reads (there is no slurmdbd, so plain `sacct` says accounting is
# disabled). `start` keeps the state of an earlier run (job ids keep counting); delete the
# folder after `stop` to forget it. Only export lines go to stdout; the rest goes to stderr.
#
# Environment: CANIDS_SLURM_DIR; CANIDS_SLURM_PORT (slurmctld's port, default 6817; slurmd
# takes the next one) and CANIDS_SLURM_FIRST_JOB_ID (default 1), so that two clusters can
# run side by side (job cgroups are named /slurm_<node>/uid_<uid>/job_<id>: two clusters
# must not hand out the same job id at once); CANIDS_SLURM_START_TIMEOUT (seconds until
# the node must be idle, default 30).
#
# Several nodes (CANIDS_SLURM_NODES=2 ... 8; `stop` and `status` read the mode from the
# state folder): node1, node2, ... each run one slurmd in their own network namespace
# (a veth pair on a private bridge, 10.231.X.0/24: X is the first subnet no interface
# uses, or CANIDS_SLURM_SUBNET=10.231.7), their own UTS namespace (`hostname` says node1),
# their own PID namespace (a job sees only its node's processes, so `ray stop` in one node
# stops nothing elsewhere) and mount namespace (/etc/hosts names every node). slurmctld runs
# here, on the bridge's .1 address; node K is .(10+K). A private munged (socket under
# /run/canids-munge-*) serves only this cluster. Traffic stays on links inside this machine.
# Every node reports this machine's CPUs, and 1/N of its memory.
set -euo pipefail

# slurmctld, slurmd and munged live in /usr/sbin, which a user's PATH often lacks.
PATH="$PATH:/usr/sbin:/sbin"

PROG="$0"
HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${CANIDS_SLURM_DIR:-/tmp/canids-slurm}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
CTLD_PORT="${CANIDS_SLURM_PORT:-6817}"
FIRST_JOB_ID="${CANIDS_SLURM_FIRST_JOB_ID:-1}"
START_TIMEOUT="${CANIDS_SLURM_START_TIMEOUT:-30}"
NODES="${CANIDS_SLURM_NODES:-1}"
CONF="$DIR/slurm.conf"
RUN="$DIR/run"
LOG="$DIR/log"
PACKAGES=(slurmctld slurmd slurm-client munge)
BINARIES=(slurmctld slurmd sbatch sinfo squeue scancel sacct scontrol munged munge unmunge)
# What several nodes need besides (Debian: iproute2, util-linux).
NET_BINARIES=(ip nsenter unshare)

# Several nodes: network namespaces, the private munged, the nodes' init.
# shellcheck source=slurm/dev/nodes.sh disable=SC1091 # followed when both are linted
source "$HERE/nodes.sh"
set_net_names
SUBNET=""

say() { printf 'local-cluster: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

need_root() {
  [ "$(id -u)" -eq 0 ] ||
    die "'$1' needs root (slurmd starts jobs as their users and manages their cgroups): sudo -E $PROG $1"
}

missing_binaries() {
  local b
  for b in "${BINARIES[@]}"; do
    command -v "$b" >/dev/null 2>&1 || printf '%s ' "$b"
  done
}

need_binaries() {
  local missing b
  missing="$(missing_binaries)"
  [ -z "$missing" ] ||
    die "missing ${missing% }; install them with: sudo $PROG install (apt-get install ${PACKAGES[*]})"
  if multi_node; then
    for b in "${NET_BINARIES[@]}"; do
      command -v "$b" >/dev/null 2>&1 ||
        die "several nodes need '$b': apt-get install iproute2 util-linux"
    done
  fi
}

# The pid recorded in $1 when that process is alive and is $2. A recycled pid that now
# belongs to another program does not count: `stop` must never signal a stranger.
live_pid() {
  local pidfile="$1" name="$2" pid comm
  [ -r "$pidfile" ] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  [ "$comm" = "$name" ] || return 1
  printf '%s\n' "$pid"
}

port_in_use() {
  # Bash's /dev/tcp connects only when something listens there.
  (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

munge_works() {
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

# The munged at socket $1 (several nodes run a private one).
munge_works_at() {
  munge -n --socket "$1" 2>/dev/null | unmunge --socket "$1" >/dev/null 2>&1
}

slurm() {
  SLURM_CONF="$CONF" "$@"
}


# ---------------------------------------------------------------------------------------
cmd_install() {
  local missing log
  missing="$(missing_binaries)"
  if [ -z "$missing" ]; then
    say "SLURM and munge are installed ($(slurmd -V))"
    return 0
  fi
  need_root install
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing% } and no apt-get here: install SLURM and munge with your package manager"
  log="$(mktemp)"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists are usually fresh enough; refresh them only when that fails.
  if ! apt-get install -y -qq "${PACKAGES[@]}" >"$log" 2>&1; then
    say "apt-get install failed; running apt-get update and trying again"
    if ! { apt-get update -qq && apt-get install -y -qq "${PACKAGES[@]}"; } >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      die "apt-get install ${PACKAGES[*]} failed (output above)"
    fi
  fi
  rm -f "$log"
  say "installed ${PACKAGES[*]} ($(slurmd -V))"
}

# ---------------------------------------------------------------------------------------
# munged: reuse one that answers (ours from an earlier start, or the system's); otherwise
# start one as the munge user and record it, so that `stop` stops only a munged we started.
start_munge() {
  local pid
  if pid="$(live_pid "$RUN/munged.pid" munged)" && munge_works; then
    say "munge: our munged from an earlier start (pid $pid)"
    return 0
  fi
  rm -f "$RUN/munged.pid"
  if munge_works; then
    say "munge: using the running munged"
    return 0
  fi
  start_system_munged
  cp /run/munge/munged.pid "$RUN/munged.pid"
  say "munge: started munged (pid $(cat "$RUN/munged.pid"))"
}

# The system's munged (socket /run/munge), as the munge user; returns once it answers.
start_system_munged() {
  local i
  [ -e /etc/munge/munge.key ] ||
    die "no /etc/munge/munge.key: create it with 'sudo mungekey --create' (or reinstall munge)"
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  runuser -u munge -- munged ||
    die "munged did not start; see /var/log/munge/munged.log"
  for ((i = 0; i < 50; i++)); do
    munge_works && return 0
    sleep 0.1
  done
  tail -n 20 /var/log/munge/munged.log >&2 || true
  die "munged started but 'munge -n | unmunge' still fails (log above)"
}

# `munge`: the system's munged for several one-node clusters at once (CI's two test
# streams), started when none answers and recorded by no cluster, so that no cluster's
# `stop` ends it while another uses it.
cmd_munge() {
  need_root munge
  need_binaries
  if munge_works; then
    say "munge: the running munged answers"
    return 0
  fi
  start_system_munged
  say "munge: started munged (pid $(cat /run/munge/munged.pid)); no cluster's stop ends it"
}

write_config() {
  local host node real mem nodes auth_info=""
  local ctld_addr=127.0.0.1 spool="$DIR/spool" slurmd_pid="$RUN/slurmd.pid" slurmd_log="$LOG/slurmd.log"
  host="$(hostname -s)"
  # `slurmd -C` prints this machine's node line (CPUs, sockets, cores, RealMemory).
  node="$(slurmd -C | head -n 1)"
  real="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")"
  [ -n "$real" ] || die "cannot read RealMemory from 'slurmd -C': $node"
  # A node that reports less memory than configured is drained as invalid: stay a bit
  # below what slurmd measures (5 %, at least 256 MB).
  mem=$((real - (real / 20 > 256 ? real / 20 : 256)))
  if multi_node; then
    # Every node's slurmd sees this machine: each reports all its CPUs and gets 1/N of
    # its memory. Per-node paths (%n: the node's name) keep the slurmds apart.
    nodes="$(node_lines "$(sed -e 's/^NodeName=[^ ]* //' -e "s/RealMemory=$real/RealMemory=$((mem / NODES))/" \
      <<<"$node")")"
    ctld_addr="$SUBNET.1"
    spool="$DIR/spool/%n"
    slurmd_pid="$RUN/slurmd-%n.pid"
    slurmd_log="$LOG/slurmd-%n.log"
    auth_info=$'\n'"# This cluster's own munged (other local clusters may stop the system's)."
    auth_info+=$'\n'"AuthInfo=socket=$MUNGE_SOCKET"
  else
    nodes="$(sed -e "s/^NodeName=[^ ]*/NodeName=$host/" -e "s/RealMemory=$real/RealMemory=$mem/" \
      <<<"$node") NodeAddr=127.0.0.1 State=UNKNOWN"
  fi
  cat >"$CONF" <<EOF
# Written by slurm/dev/local-cluster.sh at every start; edits are lost.
ClusterName=canids-local
# An explicit address, so that the cluster works where the host name does not resolve.
SlurmctldHost=$host($ctld_addr)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge$auth_info
MpiDefault=none
MailProg=/bin/true
# Used only when the state folder is new.
FirstJobId=$FIRST_JOB_ID
# A node that went down (e.g. slurmd restarted) comes back by itself.
ReturnToService=2
# The controller forgets finished jobs after MinJobAge (default 300 s): keep them an hour
# so that scontrol still knows the jobs of a test session.
MinJobAge=3600
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$slurmd_log
SlurmctldDebug=info
SlurmdDebug=info
# cgroups enforce --mem (OUT_OF_MEMORY) and track every process of a job.
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, every job asks for the whole node's memory and jobs run one by one.
DefMemPerCPU=1000
# No slurmdbd: completion records go to a text file that 'sacct -c' reads.
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG/jobcomp.log
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
$nodes
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # cgroup/v2 refuses hybrid (v1 + v2) hierarchies; autodetect picks what the kernel has.
  cat >"$DIR/cgroup.conf" <<EOF
# Written by slurm/dev/local-cluster.sh at every start; edits are lost.
CgroupPlugin=autodetect
ConstrainRAMSpace=yes
EOF
}

log_tails() {
  local f
  for f in "$LOG/slurmctld.log" "$LOG"/slurmd*.log "$LOG"/node*.console; do
    [ -s "$f" ] || continue
    printf -- '--- last lines of %s\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
}

start_failed() {
  say "error: $*"
  log_tails
  stop_daemons
  say "stopped what this start had started; config and logs are in $DIR"
  exit 1
}

cmd_start() {
  local pid state deadline k t0=$SECONDS t0_us="${EPOCHREALTIME/./}"
  need_root start
  check_node_count
  need_binaries
  case "$DIR" in *[[:space:]]*) die "CANIDS_SLURM_DIR must not contain spaces: '$DIR'" ;; esac
  mkdir -p "$DIR/state" "$DIR/spool" "$RUN" "$LOG"
  # A second slurmctld with the same state kills the running one: refuse instead.
  if pid="$(live_pid "$RUN/slurmctld.pid" slurmctld)"; then
    say "error: a slurmctld from $DIR is already running (pid $pid)."
    say "use it:   export SLURM_CONF=$CONF"
    die "or stop it first: $PROG stop"
  fi
  if pid="$(live_pid "$RUN/slurmd.pid" slurmd)"; then
    die "a slurmd from $DIR is still running (pid $pid) without its slurmctld: $PROG stop"
  fi
  # What a start that died half-way left (nodes, links, munged): stop it first.
  if [ -e "$(nodes_env_file)" ]; then
    local nodes="$NODES"
    load_nodes_env
    stop_daemons
    NODES="$nodes"
    SUBNET=""
  fi
  for port in "$CTLD_PORT" "$((CTLD_PORT + 1))"; do
    if port_in_use "$port"; then
      die "port $port is in use (another SLURM?); pick free ports: CANIDS_SLURM_PORT=$((CTLD_PORT + 100)) $PROG start"
    fi
  done
  if multi_node; then
    setup_checked_network || start_failed "could not give the nodes a working network (output above)"
    start_private_munge
  else
    start_munge
  fi
  write_config
  slurm slurmctld -f "$CONF" || start_failed "slurmctld exited with status $?"
  # One deadline for slurmctld's listening and the nodes' registration.
  deadline=$((SECONDS + START_TIMEOUT))
  if multi_node; then
    until controller_listening; do
      live_pid "$RUN/slurmctld.pid" slurmctld >/dev/null || ((SECONDS - t0 <= 1)) ||
        start_failed "slurmctld died before it listened on port $CTLD_PORT"
      ((SECONDS < deadline)) ||
        start_failed "slurmctld does not listen on port $CTLD_PORT after ${START_TIMEOUT} s"
      sleep 0.1
    done
    for ((k = 1; k <= NODES; k++)); do start_node "$k"; done
  else
    slurm slurmd -f "$CONF" || start_failed "slurmd exited with status $?"
  fi

  local want=idle
  multi_node && want="$(for ((k = 1; k <= NODES; k++)); do printf 'idle '; done)"
  while :; do
    state="$(slurm sinfo -h -N -o '%T' 2>/dev/null | tr '\n' ' ' || true)"
    [ "${state% }" = "${want% }" ] && break
    if ((SECONDS >= deadline)); then
      start_failed "the $NODES node(s) are not idle after ${START_TIMEOUT} s (sinfo says '${state:-nothing}')"
    fi
    # Daemonized at once, so a missing pid file a second later means the daemon died.
    if ((SECONDS - t0 > 1)); then
      live_pid "$RUN/slurmctld.pid" slurmctld >/dev/null || start_failed "slurmctld died"
      if multi_node; then
        nodes_alive || start_failed "a node died"
      else
        live_pid "$RUN/slurmd.pid" slurmd >/dev/null || start_failed "slurmd died"
      fi
    fi
    sleep 0.2
  done
  local ms=$(((${EPOCHREALTIME/./} - t0_us) / 1000)) where
  where="node $(hostname -s) idle"
  multi_node && where="nodes $(slurm sinfo -h -N -o '%N' | tr '\n' ' ')idle, controller on $SUBNET.1"
  say "up in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s: $where, partition debug, state in $DIR"
  printf 'export SLURM_CONF=%s\n' "$CONF"
}

# ---------------------------------------------------------------------------------------
# Send SIGTERM to the process recorded in $1, only if it is still $2; print its pid.
term_pid() {
  local pid
  if pid="$(live_pid "$1" "$2")"; then
    kill -TERM "$pid" 2>/dev/null || true
    printf '%s\n' "$pid"
  fi
}

# Wait until pid $1 (named $2, recorded in $3) is gone, SIGKILL after 15 s; forget it.
wait_gone() {
  local pid="$1" name="$2" pidfile="$3" i
  if [ -n "$pid" ]; then
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) ignored SIGTERM for 15 s: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop_daemons() {
  local ids i slurmd_pid ctld_pid
  # Cancel this cluster's jobs first: their slurmstepd processes would outlive slurmd.
  if live_pid "$RUN/slurmctld.pid" slurmctld >/dev/null; then
    ids="$(slurm squeue -h -o '%i' 2>/dev/null || true)"
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086  # one id per word
      slurm scancel $ids 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        [ -z "$(slurm squeue -h -t RUNNING,COMPLETING -o '%i' 2>/dev/null || true)" ] && break
        sleep 0.1
      done
      say "cancelled job(s) $(tr '\n' ' ' <<<"$ids")"
    fi
  fi
  if multi_node; then
    stop_nodes
    wait_gone "$(term_pid "$RUN/slurmctld.pid" slurmctld)" slurmctld "$RUN/slurmctld.pid"
    stop_private_munge
    teardown_network
    return 0
  fi
  # Both take 1-2 s to shut down: signal them together. munged goes last.
  slurmd_pid="$(term_pid "$RUN/slurmd.pid" slurmd)"
  ctld_pid="$(term_pid "$RUN/slurmctld.pid" slurmctld)"
  wait_gone "$slurmd_pid" slurmd "$RUN/slurmd.pid"
  wait_gone "$ctld_pid" slurmctld "$RUN/slurmctld.pid"
  wait_gone "$(term_pid "$RUN/munged.pid" munged)" munged "$RUN/munged.pid"
}

cmd_stop() {
  need_root stop
  if [ ! -d "$RUN" ]; then
    say "nothing to stop: no $RUN"
    return 0
  fi
  NODES=1
  load_nodes_env || true
  stop_daemons
}

# ---------------------------------------------------------------------------------------
cmd_status() {
  local rc=0 pid name daemons=(slurmctld slurmd)
  NODES=1
  if load_nodes_env; then
    daemons=(slurmctld)
    nodes_status || rc=3
  fi
  for name in "${daemons[@]}"; do
    if pid="$(live_pid "$RUN/$name.pid" "$name")"; then
      echo "$name: running (pid $pid)"
    else
      echo "$name: not running"
      rc=3
    fi
  done
  if multi_node; then
    if pid="$(live_pid "$MUNGE_DIR/munged.pid" munged)"; then
      echo "munged: this cluster's own (pid $pid, socket $MUNGE_SOCKET)"
    else
      echo "munged: this cluster's own is not running"
      rc=3
    fi
  elif pid="$(live_pid "$RUN/munged.pid" munged)"; then
    echo "munged: running, started by this script (pid $pid)"
  elif munge_works; then
    echo "munged: running (not started by this script)"
  else
    echo "munged: not running"
  fi
  if live_pid "$RUN/slurmctld.pid" slurmctld >/dev/null; then
    echo "export SLURM_CONF=$CONF"
    slurm sinfo || rc=3
    slurm squeue || rc=3
  fi
  return "$rc"
}

usage() {
  # The comment block at the top of this file.
  sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit "${1:-2}"
}

# `_node NAME`: internal, the init of a node's namespaces (see nodes.sh).
if [ $# -eq 2 ] && [ "$1" = _node ]; then
  cmd_node "$2"
  exit 0
fi
[ $# -eq 1 ] || usage
case "$1" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  munge) cmd_munge ;;
  -h | --help | help) usage 0 ;;
  *) usage ;;
esac
