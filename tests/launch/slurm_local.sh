#!/usr/bin/env bash
# unetrun under srun, with a Slurm cluster of the test's own on this machine: slurmctld and
# three slurmd started here (auth/none, no munge, no cgroups), their config, state and logs
# in the test's folder (SLURM_CONF), stopped at the end.
#   tests/launch/slurm_local.sh UNETRUN UNETC UNETSYNTH UNETCONVERT
# The three nodes are named 127.0.0.1, 127.0.0.2 and 127.0.0.3 (one slurmd each, on ports of
# their own): the names resolve without /etc/hosts, are loopback, and give each task an
# address of its own, so a [slurm] file's one worker_port serves both workers.
# (a) a [slurm] file on the three nodes (srun -N3 --ntasks-per-node=1): PS on node 0, workers
#     on 1 and 2, 4 steps, the chief's training.log and a checkpoint;
# (b) [[ps]]/[[worker]] on one node, three ports (srun -N1 -n3): the ranks from SLURM_PROCID;
# (c) a [slurm] file with three tasks on one node: every task stops, naming the node list;
# (d) scripts/slurm/train.sbatch submitted with sbatch --wait on the three nodes, as in (a).
# No unetrun, slurmstepd or daemon of the test may be left behind. Needs slurmctld, slurmd
# and srun (Debian: apt-get install slurm-wlm) and python3.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 UNETRUN UNETC UNETSYNTH UNETCONVERT" >&2; exit 2; }
unetrun=$(realpath "$1") unetc=$(realpath "$2") unetsynth=$(realpath "$3") unetconvert=$(realpath "$4")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
PATH=$PATH:/usr/sbin:/sbin  # Debian puts the daemons there, outside a user's PATH
for tool in slurmctld slurmd srun sbatch sinfo; do
  command -v "$tool" > /dev/null || fail "$tool not found (Debian: apt-get install slurm-wlm)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/unet_slurm_local.XXXXXX")
sl=$work/slurm
mkdir -p "$sl/state" "$sl/spool"
conf=$sl/slurm.conf
nodes=(127.0.0.1 127.0.0.2 127.0.0.3)
daemons=()

# Every process of this test's cluster, by the SLURM_CONF in its environment: the daemons,
# slurmscriptd, the slurmstepd of each step and its tasks. The test's own shell never has it.
ours() {
  local e pid
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}
    pid=${pid%/environ}
    [[ $pid != "$$" ]] || continue
    tr '\0' '\n' 2> /dev/null < "$e" | grep -qxF "SLURM_CONF=$conf" && echo "$pid"
  done
  return 0
}

stop_slurm() {
  local pids i
  pids=$(ours)
  [[ -z $pids ]] || kill -TERM $pids 2> /dev/null || true
  for ((i = 0; i < 50; ++i)); do
    pids=$(ours)
    [[ -n $pids ]] || break
    sleep 0.1
  done
  [[ -z $pids ]] || kill -KILL $pids 2> /dev/null || true
  for pid in "${daemons[@]}"; do wait "$pid" 2> /dev/null || true; done
  daemons=()
}

# The daemons' logs, for a failure that may be theirs.
slurm_logs() {
  local f
  for f in "$sl"/*.log "$sl"/*.out; do
    [[ -f $f ]] && { echo "--- $f"; tail -n 15 "$f"; }
  done
  return 0
}
trap 'stop_slurm; stop_leftovers; rm -rf "$work"' EXIT

start=$SECONDS
make_tiny_run
read -r ctld_port d0 d1 d2 ps_port w_port w0 w1 <<< "$(free_ports 8)"
user=$(id -un)
cat > "$conf" <<EOF
ClusterName=unettest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$sl/state
SlurmdSpoolDir=$sl/spool/%n
SlurmctldPidFile=$sl/slurmctld.pid
SlurmdPidFile=$sl/slurmd.%n.pid
SlurmctldLogFile=$sl/slurmctld.log
SlurmdLogFile=$sl/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
NodeName=${nodes[0]} NodeAddr=127.0.0.1 Port=$d0 CPUs=3 State=UNKNOWN
NodeName=${nodes[1]} NodeAddr=127.0.0.1 Port=$d1 CPUs=3 State=UNKNOWN
NodeName=${nodes[2]} NodeAddr=127.0.0.1 Port=$d2 CPUs=3 State=UNKNOWN
PartitionName=unet Nodes=ALL Default=YES MaxTime=10 State=UP
EOF
export SLURM_CONF=$conf  # for the daemons and srun: the test's shell was started without it

slurmctld -D < /dev/null > "$sl/slurmctld.out" 2>&1 &
daemons+=($!)
for n in "${nodes[@]}"; do
  mkdir -p "$sl/spool/$n"
  slurmd -D -N "$n" < /dev/null > "$sl/slurmd.$n.out" 2>&1 &
  daemons+=($!)
done
for ((i = 0; ; ++i)); do
  idle=$(sinfo -h -t idle -o %D 2> /dev/null || true)
  [[ $idle != 3 ]] || break
  ((i < 150)) || { slurm_logs; fail "the three nodes are not idle after 15 s (sinfo: ${idle:-no answer})"; }
  for pid in "${daemons[@]}"; do
    kill -0 "$pid" 2> /dev/null || { slurm_logs; fail "a Slurm daemon ended at its start"; }
  done
  sleep 0.1
done
srun -N3 --ntasks-per-node=1 hostname > "$work/hostname.out" 2>&1 || { cat "$work/hostname.out"; slurm_logs; fail "srun hostname"; }
[[ $(wc -l < "$work/hostname.out") == 3 ]] || { cat "$work/hostname.out"; fail "srun -N3 hostname: not 3 lines"; }

cd "$work"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > cluster.token
chmod 600 cluster.token
flags=(plan.bin --batch_size 4 --max_steps 4 --no_pin)
# srun's own limit, and a kill of the other tasks when one fails: no run may hang the test.
run=(timeout -k 5 60 srun --kill-on-bad-exit=1 --time=2)

# check_chief LOG WHAT: this run's 4 steps in the chief's log, and a checkpoint.
check_chief() {
  [[ -f $1 ]] || fail "$2: no $1"
  grep -q "Global Step: 4," "$1" || { cat "$1"; fail "$2: the chief's 4th step is not in $1"; }
  [[ $(grep -c "Global Step:" "$1") == 4 ]] || { cat "$1"; fail "$2: not 4 steps in $1"; }
  [[ -f checkpoints/latest.npz ]] || fail "$2: the chief wrote no checkpoint"
}

# (a) hosts from the job: node 0 the PS, nodes 1 and 2 the workers, one task a node.
cat > slurm.toml <<EOF
token_file = "cluster.token"
data = "slices"
checkpoint_dir = "checkpoints"
peer_timeout = 10

[slurm]
ps_tasks = 1
ps_port = $ps_port
worker_port = $w_port
threads = 1
EOF
if ! "${run[@]}" -N3 --ntasks-per-node=1 --label "$unetrun" "${flags[@]}" --cluster slurm.toml > a.out 2>&1; then
  cat a.out
  slurm_logs
  fail "(a) srun -N3 with a [slurm] file failed"
fi
check_chief training.log "(a)"
grep -qF "unetrun: worker 0 (SLURM_PROCID=1)" training.log || { cat training.log; fail "(a) the chief's rank not logged"; }
grep -qF "unetrun: worker 1 (SLURM_PROCID=2)" training.1.log || { cat training.1.log; fail "(a) worker 1's rank not logged"; }
grep -q "^0: .*every worker is done at step 4" a.out || { cat a.out; fail "(a) the PS did not see both workers to step 4"; }
[[ -z $(leftover_unetrun) ]] || fail "(a) unetrun still running after srun: $(leftover_unetrun)"

# (b) hosts listed, all three tasks on one node, each on a port of its own.
rm -rf checkpoints training.log training.1.log
write_cluster "$work/listed.toml" "$ps_port" "$w0" "$w1"
if ! "${run[@]}" -N1 -n3 -w "${nodes[0]}" --label "$unetrun" "${flags[@]}" --cluster listed.toml > b.out 2>&1; then
  cat b.out
  slurm_logs
  fail "(b) srun -N1 -n3 with [[ps]]/[[worker]] failed"
fi
check_chief training.log "(b)"
grep -qF "unetrun: worker 0 (SLURM_PROCID=1)" training.log || { cat training.log; fail "(b) the chief's rank not logged"; }
[[ -z $(leftover_unetrun) ]] || fail "(b) unetrun still running after srun: $(leftover_unetrun)"

# (c) a [slurm] file wants one task a node: three tasks on one node is one node, no worker.
if "${run[@]}" -N1 -n3 -w "${nodes[0]}" --label "$unetrun" "${flags[@]}" --cluster slurm.toml > c.out 2>&1; then
  cat c.out
  fail "(c) three [slurm] tasks on one node ran"
fi
[[ $(grep -c "SLURM_STEP_NODELIST=${nodes[0]}: 1 node, but .*slurm.toml:6 puts 1 parameter server on the first and leaves no worker" c.out) == 3 ]] ||
  { cat c.out; fail "(c) not every task named the node list"; }
[[ -z $(leftover_unetrun) ]] || fail "(c) unetrun still running after srun: $(leftover_unetrun)"

# (d) scripts/slurm/train.sbatch, as a user submits it: sbatch --wait returns the job's exit.
rm -rf checkpoints training.log training.1.log
if ! timeout -k 5 90 sbatch --wait -N3 --time=2 --output="$work/d.out" --chdir="$work" \
    --export=ALL,UNETRUN="$unetrun" "$here/../../scripts/slurm/train.sbatch" slurm.toml "${flags[@]}" > d.submit 2>&1; then
  cat d.submit "$work/d.out" 2> /dev/null || true
  slurm_logs
  fail "(d) sbatch scripts/slurm/train.sbatch failed"
fi
check_chief training.log "(d)"
grep -q "^0: .*every worker is done at step 4" d.out || { cat d.out; fail "(d) the PS did not see both workers to step 4"; }
[[ -z $(leftover_unetrun) ]] || fail "(d) unetrun still running after the job: $(leftover_unetrun)"

stop_slurm
[[ -z $(ours) ]] || fail "processes of the test's cluster left after its stop: $(ours)"
echo "slurm_local: ok in $((SECONDS - start)) s"
