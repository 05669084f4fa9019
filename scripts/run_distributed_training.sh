#!/usr/bin/env bash
# One distributed training run on the hosts of a cluster file, started with Ansible from this
# host, as the seed's run_distributed_training.sh did it:
#
#   scripts/run_distributed_training.sh cluster.toml plan.bin --batch_size 16 --epochs 10
#
# makes logs/inv.yml from the cluster file, then runs scripts/ansible/distributed_train.yml:
# each host checked for unetrun, the plan and the data, the token handed out (mode 600), the
# parameter servers started, then the workers (under numactl -p when the file gives
# numa_node), and at the end the chief's log and every task's output gathered into
# ./training.log. Every task runs in this folder's path on its host (checkpoints/, logs/).
#
# Environment: UNETRUN (default: build/tools/unetrun/unetrun, else unetrun on PATH),
# UNET_SYNC=1 (copy unetrun, the plan and the data to the other hosts first), UNET_POLL
# (seconds between looks at the running tasks, 5), ANSIBLE_ARGS (more ansible-playbook
# arguments, e.g. "-u unet --private-key ~/.ssh/id_unet").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "run_distributed_training.sh: $*" >&2; exit 1; }

(($# >= 2)) || die "usage: $0 cluster.toml plan.bin [unetrun flags]"
cluster=$1 plan=$2
shift 2
[[ -f $cluster ]] || die "$cluster: no such file"
[[ -f $plan ]] || die "$plan: no such file"
data_flag=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  a=${args[i]}
  case $a in
    # The playbook gives each task its role and its log; the cluster file, the hosts.
    --ps | --worker | --task_index* | --ps_hosts* | --worker_hosts* | --cluster* | --log | --log=*)
      die "${a%%=*}: the playbook sets it for each task" ;;
    --data) data_flag=${args[i + 1]:-} ;;
    --data=*) data_flag=${a#--data=} ;;
  esac
done
command -v ansible-playbook > /dev/null || die "ansible-playbook not found (Debian: apt-get install ansible-core)"

unetrun=${UNETRUN:-}
if [[ -z $unetrun ]]; then
  if [[ -x $here/../build/tools/unetrun/unetrun ]]; then
    unetrun=$here/../build/tools/unetrun/unetrun
  else
    unetrun=$(command -v unetrun) || die "no unetrun: build it (scripts/build.sh unetrun) or set UNETRUN"
  fi
fi
# Absolute paths: every host runs the tasks in this folder's path, and finds the files there.
unetrun=$(realpath "$unetrun")
plan=$(realpath "$plan")

mkdir -p logs
python3 "$here/ansible/inventory.py" "$cluster" -o logs/inv.yml
# The variables as JSON, so that no flag needs quoting for Ansible.
python3 - "$unetrun" "$plan" "$PWD" "$data_flag" "${UNET_SYNC:-0}" "${UNET_POLL:-5}" "$@" > logs/run.json <<'EOF'
import json, sys
unetrun, plan, run_dir, data_flag, sync, poll, *flags = sys.argv[1:]
print(json.dumps({"unet_unetrun": unetrun, "unet_plan": plan, "unet_dir": run_dir, "unet_data_flag": data_flag,
                  "unet_sync": sync not in ("", "0"), "unet_poll": int(poll), "unet_flags": flags}))
EOF
# Pipelining: a module runs without its file being copied over first (a second a task less).
export ANSIBLE_PIPELINING=${ANSIBLE_PIPELINING:-True}
tasks=$(grep -c '^        [a-z]*[0-9]*:$' logs/inv.yml || true)
# One fork a task, so that all of them are started and waited for at once.
# shellcheck disable=SC2086
exec ansible-playbook -i logs/inv.yml --forks "$((tasks > 5 ? tasks : 5))" -e @logs/run.json ${ANSIBLE_ARGS:-} \
  "$here/ansible/distributed_train.yml"
