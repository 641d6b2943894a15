# shellcheck shell=bash
# Several SLURM nodes on one machine, for local-cluster.sh (sourced by it; not a command).
#
# Node K (node1, node2, ...) is one slurmd in its own namespaces:
#   network  canids-<tag>-nodeK: eth0 = one end of a veth pair whose other end is on the
#            bridge cn<tag>br (root namespace, SUBNET.1); node K has SUBNET.(10+K)/24.
#   UTS      hostname nodeK, so `srun hostname` tells the nodes apart.
#   PID      the node's processes only: `ray stop` or `pkill` in a job of node1 cannot
#            touch node2, the controller or anything else on the machine.
#   mount    /etc/hosts names the controller and every node (`hostname --ip-address`).
# slurmctld runs in the root namespace on SUBNET.1; a private munged (socket in
# /run/canids-munge-<tag>/) is shared by all of this cluster's daemons and jobs. <tag> is
# a checksum of the state folder, so two clusters never share a name; the state folder
# records what was made (run/nodes.env), and `stop` removes exactly that.

# Several nodes: CANIDS_SLURM_NODES at `start`; for `stop` and `status`, the state folder.
multi_node() { [ "$NODES" -gt 1 ]; }

nodes_env_file() { printf '%s\n' "$RUN/nodes.env"; }

# Names of this cluster's links, namespaces and munged: from the state folder's path.
set_net_names() {
  TAG="$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)"
  TAG="$(printf '%08x' "$TAG")"
  BRIDGE="cn${TAG}br"
  MUNGE_DIR="/run/canids-munge-$TAG"
  MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
}

node_name() { printf 'node%s\n' "$1"; }
node_netns() { printf 'canids-%s-node%s\n' "$TAG" "$1"; }
node_veth() { printf 'cn%sh%s\n' "$TAG" "$1"; }
node_addr() { printf '%s.%s\n' "$SUBNET" "$((10 + $1))"; }

check_node_count() {
  case "$NODES" in
    [1-8]) ;;
    *) die "CANIDS_SLURM_NODES must be 1 to 8, got '$NODES'" ;;
  esac
}

# Read what an earlier `start` recorded (mode, subnet): `stop` and `status` follow it.
load_nodes_env() {
  local file key value
  file="$(nodes_env_file)"
  [ -r "$file" ] || return 1
  while IFS='=' read -r key value; do
    case "$key" in
      NODES) NODES="$value" ;;
      SUBNET) SUBNET="$value" ;;
    esac
  done <"$file"
  set_net_names
}

subnet_in_use() {
  ip -o -4 addr show | grep -q -F " $1."
}

# The first 10.231.X that no interface here has an address in (or CANIDS_SLURM_SUBNET).
pick_subnet() {
  local x
  if [ -n "${CANIDS_SLURM_SUBNET:-}" ]; then
    if ! [[ "$CANIDS_SLURM_SUBNET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; then
      die "CANIDS_SLURM_SUBNET must be the first three numbers of a private /24, like 10.231.7; got '$CANIDS_SLURM_SUBNET'"
    fi
    if subnet_in_use "$CANIDS_SLURM_SUBNET"; then
      die "subnet $CANIDS_SLURM_SUBNET.0/24 is in use here (ip -4 addr); pick another: CANIDS_SLURM_SUBNET=10.231.99"
    fi
    SUBNET="$CANIDS_SLURM_SUBNET"
    return 0
  fi
  for ((x = 0; x < 256; x++)); do
    if ! subnet_in_use "10.231.$x"; then
      SUBNET="10.231.$x"
      return 0
    fi
  done
  die "every subnet 10.231.0-255.0/24 is in use here: set CANIDS_SLURM_SUBNET to a free private /24"
}

# The bridge, one namespace and veth pair per node, and the nodes' /etc/hosts.
setup_network() {
  local k ns veth
  pick_subnet
  printf 'NODES=%s\nSUBNET=%s\n' "$NODES" "$SUBNET" >"$(nodes_env_file)"
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    die "a link named $BRIDGE exists but this state folder did not record it: remove it (ip link del $BRIDGE) or use another CANIDS_SLURM_DIR"
  fi
  ip link add "$BRIDGE" type bridge
  ip addr add "$SUBNET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for ((k = 1; k <= NODES; k++)); do
    ns="$(node_netns "$k")"
    veth="$(node_veth "$k")"
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" addr add "$(node_addr "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  {
    printf '# Written by slurm/dev/local-cluster.sh: /etc/hosts inside every node.\n'
    printf '127.0.0.1\tlocalhost\n'
    printf '%s\t%s\n' "$SUBNET.1" "$(hostname -s)"
    for ((k = 1; k <= NODES; k++)); do
      printf '%s\t%s\n' "$(node_addr "$k")" "$(node_name "$k")"
    done
  } >"$DIR/hosts"
  chmod 0644 "$DIR/hosts"
  say "network: bridge $BRIDGE $SUBNET.1/24; $(for ((k = 1; k <= NODES; k++)); do
    printf '%s %s (netns %s) ' "$(node_name "$k")" "$(node_addr "$k")" "$(node_netns "$k")"
  done)"
}

# Can node $1 reach the controller's address? Before slurmctld starts nothing listens on its
# port, so a connect that works end to end (link, bridge, ARP) is refused at once; "No
# route to host" or a timeout means the node's packets do not arrive. slurmd would only
# say "Unable to contact slurm controller (connect failure)" after half a minute.
node_reaches_controller() {
  local err
  err="$(nsenter --net="/run/netns/$(node_netns "$1")" -- \
    timeout 3 bash -c ": <>/dev/tcp/$SUBNET.1/$CTLD_PORT" 2>&1)" && return 0
  [[ "$err" == *"Connection refused"* ]] && return 0
  printf '%s\n' "${err:-timed out}" | tail -n 1
  return 1
}

# What the kernel says about the links, for an error that names why a node is cut off.
network_report() {
  local k ns port
  printf -- '--- bridge %s: ' "$BRIDGE"
  ip -br addr show dev "$BRIDGE" 2>&1 || true
  for port in /sys/class/net/"$BRIDGE"/brif/*; do
    [ -e "$port" ] || continue
    # 3 is forwarding; 0 disabled (no carrier), 1 listening, 2 learning, 4 blocking.
    printf -- '--- bridge port %s: state %s, carrier %s\n' "${port##*/}" \
      "$(cat "$port/state" 2>/dev/null || echo '?')" \
      "$(cat "/sys/class/net/${port##*/}/carrier" 2>/dev/null || echo '?')"
  done
  for ((k = 1; k <= NODES; k++)); do
    ns="$(node_netns "$k")"
    printf -- '--- %s (netns %s):\n' "$(node_name "$k")" "$ns"
    ip -n "$ns" -br addr 2>&1 || true
    ip -n "$ns" neigh 2>&1 || true
  done
  printf -- '--- root namespace neighbours on %s:\n' "$BRIDGE"
  ip neigh show dev "$BRIDGE" 2>&1 || true
}

# Every node must reach the controller's address before any daemon starts; wait up to
# $1 seconds (links come up asynchronously). A node that reached it once is not probed
# again: its links are up, and a later probe that a loaded machine stalls past its 3 s
# would name a node that is not cut off. Prints the first node that never reached it, and
# why its last probe failed.
wait_network() {
  local deadline=$((SECONDS + $1)) k why missing missing_why
  local -a reached=()
  while :; do
    missing=0
    for ((k = 1; k <= NODES; k++)); do
      [ -n "${reached[k]:-}" ] && continue
      if why="$(node_reaches_controller "$k")"; then
        reached[k]=1
      else
        if ((missing == 0)); then missing="$k" missing_why="$why"; fi
      fi
    done
    ((missing == 0)) && return 0
    if ((SECONDS >= deadline)); then
      printf '%s cannot reach %s:%s: %s\n' "$(node_name "$missing")" "$SUBNET.1" "$CTLD_PORT" "$missing_why"
      return 1
    fi
    sleep 0.2
  done
}

# The nodes' network, checked: built, and when a node cannot reach the controller's
# address within 10 s, reported (links, bridge ports, neighbours), removed and built once
# more; a second failure ends the start.
setup_checked_network() {
  local why build
  for build in first second; do
    setup_network
    if why="$(wait_network 10)"; then
      say "network: every node reaches $SUBNET.1 ($build build)"
      return 0
    fi
    say "network: $why after 10 s ($build build); the links as the kernel sees them:"
    network_report >&2
    [ "$build" = second ] && break
    say "network: removing it and building it once more"
    teardown_network
    SUBNET=""
  done
  say "error: network: a node is cut off on the second build too (links above)"
  return 1
}

# slurmctld listens on its port (IPv4 or IPv6, any address): /proc/net/tcp* lists the
# socket in state 0A (LISTEN). Nodes started earlier would race its start-up and give
# up registering for half a minute.
controller_listening() {
  local hex
  hex="$(printf '%04X' "$CTLD_PORT")"
  grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Remove what setup_network made (as recorded); a missing piece is fine.
teardown_network() {
  local k ns
  for ((k = 1; k <= NODES; k++)); do
    ns="$(node_netns "$k")"
    # Deleting the namespace deletes its veth end, and with it the pair.
    if [ -e "/run/netns/$ns" ]; then
      ip netns del "$ns" 2>/dev/null || say "could not delete netns $ns: ip netns del $ns"
    fi
    ip link del "$(node_veth "$k")" 2>/dev/null || true
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" || say "could not delete bridge $BRIDGE: ip link del $BRIDGE"
    say "removed bridge $BRIDGE and netns $(node_netns 1)..$(node_netns "$NODES")"
  fi
  rm -f "$(nodes_env_file)" "$DIR/hosts"
}

# ---------------------------------------------------------------------------------------
# A munged for this cluster only: other local clusters start and stop the system's
# munged, which would take this cluster down with it.
start_private_munge() {
  local i
  [ -e /etc/munge/munge.key ] ||
    die "no /etc/munge/munge.key: create it with 'sudo mungekey --create' (or reinstall munge)"
  install -d -o munge -g munge -m 0755 "$MUNGE_DIR"
  runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_DIR/munged.pid" \
    --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" ||
    start_failed "the private munged did not start; see $MUNGE_DIR/munged.log"
  for ((i = 0; i < 50; i++)); do
    if munge_works_at "$MUNGE_SOCKET"; then
      say "munge: private munged (pid $(cat "$MUNGE_DIR/munged.pid"), socket $MUNGE_SOCKET)"
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$MUNGE_DIR/munged.log" >&2 || true
  start_failed "the private munged started but 'munge -n -S $MUNGE_SOCKET | unmunge' fails (log above)"
}

stop_private_munge() {
  wait_gone "$(term_pid "$MUNGE_DIR/munged.pid" munged)" "munged ($MUNGE_SOCKET)" \
    "$MUNGE_DIR/munged.pid"
  if [ -d "$MUNGE_DIR" ]; then
    [ ! -s "$MUNGE_DIR/munged.log" ] || cp "$MUNGE_DIR/munged.log" "$LOG/munged.log" 2>/dev/null || true
    rm -rf "$MUNGE_DIR"
  fi
}

# ---------------------------------------------------------------------------------------
# slurm.conf's node lines; $1: `slurmd -C`'s hardware fields without NodeName.
node_lines() {
  local k
  for ((k = 1; k <= NODES; k++)); do
    printf 'NodeName=%s NodeHostname=%s NodeAddr=%s %s State=UNKNOWN\n' \
      "$(node_name "$k")" "$(node_name "$k")" "$(node_addr "$k")" "$1"
  done
}

# Start node K: `unshare` (root namespace, recorded in run/nodeK.pid) forks the node's
# init, `local-cluster.sh _node nodeK`, which runs slurmd in the foreground.
start_node() {
  local k="$1" name
  name="$(node_name "$k")"
  mkdir -p "$DIR/spool/$name"
  CANIDS_SLURM_DIR="$DIR" setsid nsenter --net="/run/netns/$(node_netns "$k")" -- \
    unshare --uts --pid --fork --mount-proc --kill-child -- bash "$HERE/local-cluster.sh" _node "$name" \
    </dev/null >>"$LOG/$name.console" 2>&1 &
  printf '%s\n' "$!" >"$RUN/$name.pid"
}

# Inside the node's namespaces, as its PID 1: name the node, give it its /etc/hosts, run
# slurmd until told to stop. When this shell exits, the kernel kills every process left
# in the node (job leftovers included).
cmd_node() {
  local name="$1" pid
  hostname "$name"
  mount --bind "$DIR/hosts" /etc/hosts
  SLURM_CONF="$CONF" slurmd -D -N "$name" -f "$CONF" &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
  while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" || true
  done
}

# The node's init (the child of its recorded `unshare`), when that `unshare` is alive.
node_init_pid() {
  local pid child
  pid="$(live_pid "$RUN/$(node_name "$1").pid" unshare)" || return 1
  child="$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)"
  child="${child%% *}"
  [ -n "$child" ] || return 1
  printf '%s\n' "$child"
}

nodes_alive() {
  local k
  for ((k = 1; k <= NODES; k++)); do
    live_pid "$RUN/$(node_name "$k").pid" unshare >/dev/null || {
      say "$(node_name "$k") died; see $LOG/$(node_name "$k").console and $LOG/slurmd-$(node_name "$k").log"
      return 1
    }
  done
}

# SIGTERM every node's init (it stops slurmd), wait for all, SIGKILL what is left after 15 s.
stop_nodes() {
  local k init pids=() names=() i
  for ((k = 1; k <= NODES; k++)); do
    if init="$(node_init_pid "$k")"; then
      kill -TERM "$init" 2>/dev/null || true
      pids+=("$(live_pid "$RUN/$(node_name "$k").pid" unshare)")
      names+=("$(node_name "$k")")
    fi
  done
  for i in "${!pids[@]}"; do
    wait_gone "${pids[$i]}" "${names[$i]} (slurmd in its namespaces)" "$RUN/${names[$i]}.pid"
  done
  for ((k = 1; k <= NODES; k++)); do
    rm -f "$RUN/$(node_name "$k").pid"
  done
}

nodes_status() {
  local k rc=0 pid
  for ((k = 1; k <= NODES; k++)); do
    if pid="$(live_pid "$RUN/$(node_name "$k").pid" unshare)"; then
      echo "$(node_name "$k"): running at $(node_addr "$k") in netns $(node_netns "$k") (unshare pid $pid)"
    else
      echo "$(node_name "$k"): not running"
      rc=3
    fi
  done
  return "$rc"
}
