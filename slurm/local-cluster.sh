#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (Debian/Ubuntu, as root), for the `slurm` tests and for
# trying the SLURM launcher before using a real cluster.
#
#   slurm/local-cluster.sh          start (idempotent: installs packages if missing, writes the config,
#                                   starts only the daemons that are not running, resumes a down node)
#   slurm/local-cluster.sh stop     stop the daemons this script started (by their pid files)
#   slurm/local-cluster.sh status   show the partition and the queue
#
# munged, slurmctld and slurmd run on localhost with select/cons_tres (CPUs as the consumable
# resource), no accounting, no cgroups (works inside containers) and one partition, `debug`.
# A changed configuration restarts slurmctld and slurmd (queued jobs survive in the state dir).
# Everything runs as root; the daemons sit idle when no job runs.
set -euo pipefail

PARTITION=${SLURM_LOCAL_PARTITION:-debug}
CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

die() { echo "local-cluster: $*" >&2; exit 1; }
say() { echo "local-cluster: $*"; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (the daemons and /etc/slurm need it)"; }

alive() {  # alive PIDFILE: the process named in the pid file is running
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || die "slurmctld/slurmd/munged missing and no apt-get to install slurm-wlm munge"
    say "installing slurm-wlm munge with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_config() {
    # The node's real CPUs and memory, as slurmd sees them; memory keeps a margin for the OS.
    local cpus mem
    cpus=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' | head -1)
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
    cpus=${cpus:-$(nproc)}
    mem=$(( ${mem:-2048} * 9 / 10 ))
    mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"
    local conf="$CONF_DIR/slurm.conf" new
    new=$(mktemp)
    cat >"$new" <<EOF
# Written by diffcomp's slurm/local-cluster.sh: a one-node cluster on localhost.
ClusterName=diffcomp-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire seconds before it may start again (default 120).
AuthInfo=cred_expire=20
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    if ! cmp -s "$new" "$conf"; then
        mv "$new" "$conf"
        chmod 644 "$conf"
        say "wrote $conf ($cpus CPUs, $mem MB)"
        CONFIG_CHANGED=1
    else
        rm -f "$new"
    fi
    # Older Ubuntu packages read /etc/slurm-llnl.
    if [ -d /etc/slurm-llnl ] && [ ! -e /etc/slurm-llnl/slurm.conf ]; then
        ln -s "$conf" /etc/slurm-llnl/slurm.conf
    fi
}

start_munge() {
    if alive "$MUNGE_PID"; then return; fi
    if [ ! -s /etc/munge/munge.key ]; then
        if command -v mungekey >/dev/null; then mungekey --create --force; else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    # munged refuses to run as root: run it as its own user, like the system service does.
    if command -v runuser >/dev/null; then
        runuser -u munge -- /usr/sbin/munged --force
    else
        su -s /bin/sh munge -c "/usr/sbin/munged --force"
    fi
    for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n </dev/null | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
    say "munged started"
}

start_slurm() {
    if [ -n "${CONFIG_CHANGED:-}" ]; then  # restart to apply it (job state survives in $STATE_DIR)
        stop_daemon slurmd "$SLURMD_PID"
        stop_daemon slurmctld "$CTLD_PID"
    fi
    if ! alive "$CTLD_PID"; then
        slurmctld
        say "slurmctld started"
    fi
    if ! alive "$SLURMD_PID"; then
        slurmd -N localhost
        say "slurmd started"
    fi
    # Wait until the controller answers and the node can take jobs.
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -1 || true)
        case "$state" in
            idle*|mixed*|allocated*|completing*) break ;;
            down*|drain*|fail*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    case "$state" in
        idle*|mixed*|allocated*|completing*) ;;
        *) die "node state is '${state:-unknown}' (see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log)" ;;
    esac
    say "ready: partition '$PARTITION' on localhost ($(sinfo -h -o '%c CPUs, %m MB' | head -1))"
}

stop_daemon() {  # stop_daemon NAME PIDFILE
    if alive "$2"; then
        local pid
        pid=$(cat "$2")
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        say "stopped $1 (pid $pid)"
    fi
    rm -f "$2"
}

case "${1:-start}" in
    start)
        need_root
        install_packages
        write_config
        start_munge
        start_slurm
        ;;
    stop)
        need_root
        stop_daemon slurmd "$SLURMD_PID"
        stop_daemon slurmctld "$CTLD_PID"
        stop_daemon munged "$MUNGE_PID"
        ;;
    status)
        sinfo && squeue
        ;;
    *)
        die "usage: $0 [start|stop|status]"
        ;;
esac
