#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try docs/deploy/spikefab-sweep.sbatch and for CI
# (tests/slurm.rs). Run as root; needs Debian's slurmctld, slurmd, slurm-client and munge.
# Everything it writes (slurm.conf, a munge key, state, logs, pid files) goes under DIR, and
# nothing under /etc: every Slurm command finds the cluster through SLURM_CONF.
#
#   docs/deploy/local-slurm.sh start DIR     # prints the export line for SLURM_CONF
#   export SLURM_CONF=DIR/slurm.conf          # sbatch, squeue, scancel, sinfo now use it
#   docs/deploy/local-slurm.sh stop DIR      # cancels its jobs, stops the daemons it started
#
# The ports are the first free pair from $SLURM_LOCAL_PORT (default 16817): a cluster already
# running on the usual 6817/6818 is left alone. `stop` ends only the processes named by the pid
# files under DIR, and only if their command line names DIR.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
case $cmd in start | stop | status) ;; *) usage ;; esac
if [ "$cmd" = start ]; then mkdir -p "$2"; fi
[ -d "$2" ] || { echo "$0: $2 is not a folder" >&2; exit 2; }
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf

# The pid in FILE if it is alive and its command line names $dir (so a reused pid of some other
# process is never signalled).
ours() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir" || return 1
    echo "$pid"
}

stop_one() {
    local pid
    pid=$(ours "$1") || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

stop() {
    if ours "$dir/run/slurmctld.pid" >/dev/null; then
        # Jobs first: their steps outlive slurmd otherwise.
        scancel --quiet --user "$(id -un)" 2>/dev/null || true
        for _ in $(seq 25); do
            [ -z "$(squeue --noheader --states=RUNNING,COMPLETING 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_one "$dir/run/slurmd.pid"
    stop_one "$dir/run/slurmctld.pid"
    stop_one "$dir/run/munged.pid"
}

# Stops what did start, shows the logs, exits 1.
fail() {
    echo "$0: $1; logs under $dir/log:" >&2
    tail -n 20 "$dir"/log/*.log >&2 || true
    stop
    exit 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    local d
    for d in slurmctld slurmd munged sbatch; do
        command -v "$d" >/dev/null || [ -x "/usr/sbin/$d" ] || {
            echo "$0: $d is not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2
            exit 2
        }
    done
    [ "$(id -u)" = 0 ] || { echo "$0: run as root (slurmd starts jobs as their user)" >&2; exit 2; }
    if ours "$dir/run/slurmctld.pid" >/dev/null; then
        echo "$0: a cluster already runs from $dir" >&2
        exit 2
    fi
    local port=${SLURM_LOCAL_PORT:-16817}
    [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65000 ] ||
        { echo "$0: SLURM_LOCAL_PORT=$port: give a port from 1024 to 65000" >&2; exit 2; }
    PATH=$PATH:/usr/sbin
    mkdir -p "$dir"/{run,log,state,spool,munge}
    chmod 700 "$dir/munge"

    local key=$dir/munge/munge.key socket=$dir/run/munge.socket
    [ -s "$key" ] || { dd if=/dev/urandom of="$key" bs=1024 count=1 status=none; chmod 400 "$key"; }
    munged --force --socket="$socket" --key-file="$key" --pid-file="$dir/run/munged.pid" \
        --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" || fail "munged did not start"

    while ! { port_free "$port" && port_free $((port + 1)); }; do port=$((port + 2)); done
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
    cat >"$conf" <<EOF
# Written by docs/deploy/local-slurm.sh: one node, state under $dir.
ClusterName=spikefab-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # -i: ignore job state a previous run left in $dir/state.
    slurmctld -i -f "$conf" || fail "slurmctld did not start"
    slurmd -f "$conf" || fail "slurmd did not start"
    local state=
    for _ in $(seq 100); do
        state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null || true)
        [ "$state" = idle ] && break
        sleep 0.2
    done
    [ "$state" = idle ] || fail "the node did not come up (state: ${state:-none})"
    echo "export SLURM_CONF=$conf"
}

case $cmd in
start) start ;;
stop) stop ;;
status)
    for p in munged slurmctld slurmd; do
        if pid=$(ours "$dir/run/$p.pid"); then echo "$p: running ($pid)"; else echo "$p: stopped"; fi
    done
    ;;
esac
