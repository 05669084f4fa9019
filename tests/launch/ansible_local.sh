#!/usr/bin/env bash
# scripts/run_distributed_training.sh and its playbook on this machine: a parameter server
# and two workers on loopback (ansible_connection=local), a few steps of the tiny model.
#   tests/launch/ansible_local.sh UNETRUN UNETC UNETSYNTH UNETCONVERT
# Checks the playbook's syntax, a good run (training.log gathered here with the chief's step
# lines and its last line, the token made with mode 600, a checkpoint), and a run whose worker
# ends before it connects (the playbook must fail, name it, and not wait for ever). No
# unetrun may be left behind. Needs ansible-core and python3 only; without them it fails.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 UNETRUN UNETC UNETSYNTH UNETCONVERT" >&2; exit 2; }
# Absolute: the runs below start in the test's folder.
unetrun=$(realpath "$1") unetc=$(realpath "$2") unetsynth=$(realpath "$3") unetconvert=$(realpath "$4")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
command -v ansible-playbook > /dev/null || fail "ansible-playbook not found (Debian: apt-get install ansible-core)"

work=$(mktemp -d "${TMPDIR:-/tmp}/unet_ansible_local.XXXXXX")
trap 'stop_leftovers; rm -rf "$work"' EXIT
# Ansible's own files in the test's folder; no ansible.cfg of the user's or of the folder.
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_LOCAL_TEMP=$work/ansible-local ANSIBLE_REMOTE_TEMP=$work/ansible-remote
export ANSIBLE_ASYNC_DIR=$work/ansible-async ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
: > "$ANSIBLE_CONFIG"
export UNETRUN=$unetrun UNET_POLL=1
start=$SECONDS

# (a) the playbook parses, and so does the inventory made from a cluster file.
ansible-playbook --syntax-check -i localhost, "$repo/scripts/ansible/distributed_train.yml" > "$work/syntax.out" 2>&1 ||
  { cat "$work/syntax.out"; fail "ansible-playbook --syntax-check"; }

make_tiny_run
read -r ps w0 w1 <<< "$(free_ports 3)"
write_cluster "$work/cluster.toml" "$ps" "$w0" "$w1"
python3 "$repo/scripts/ansible/inventory.py" "$work/cluster.toml" -o "$work/inv.yml" || fail "inventory.py"
ansible-inventory -i "$work/inv.yml" --graph > "$work/graph.out" 2>&1 || { cat "$work/graph.out"; fail "ansible-inventory"; }
grep -q "ps0" "$work/graph.out" && grep -q "worker1" "$work/graph.out" || { cat "$work/graph.out"; fail "inventory groups"; }
# A host without a port is one line naming the file.
printf '[[ps]]\nhost = "127.0.0.1"\n[[worker]]\nhost = "127.0.0.1"\nport = 1\n' > "$work/no_port.toml"
if python3 "$repo/scripts/ansible/inventory.py" "$work/no_port.toml" > /dev/null 2> "$work/no_port.err"; then
  fail "inventory.py took a [[ps]] without a port"
fi
[[ $(cat "$work/no_port.err") == "inventory.py: $work/no_port.toml: [[ps]] 0 has no port" ]] ||
  fail "no-port message: $(cat "$work/no_port.err")"

# (b) a good run, from the folder the user would be in.
cd "$work"
flags=(plan.bin --batch_size 4 --max_steps 4 --no_pin)
if ! "$repo/scripts/run_distributed_training.sh" cluster.toml "${flags[@]}" > good.out 2>&1; then
  cat good.out
  fail "the playbook failed on a good run"
fi
[[ -f training.log ]] || fail "no training.log gathered here"
log_section training.log "worker 0 (the chief)" > chief.part
grep -q "Global Step: 4," chief.part || { cat training.log; fail "the chief's step lines are not in training.log"; }
[[ $(grep -c "Global Step:" chief.part) == 4 ]] || { cat training.log; fail "not this run's 4 steps of the chief"; }
tail -n 1 chief.part | grep -q "^worker 0: .* blocked on the network" ||
  { cat training.log; fail "the chief's last line is not in training.log"; }
for task in "ps0 on 127.0.0.1:$ps" "worker0 on 127.0.0.1:$w0" "worker1 on 127.0.0.1:$w1"; do
  grep -qF "==> $task: output (exit status 0) <==" training.log || { cat training.log; fail "no output of $task"; }
done
log_section training.log "ps0" | grep -q "every worker is done at step 4" || fail "the PS's output is incomplete"
[[ $(stat -c %a cluster.token) == 600 ]] || fail "cluster.token has mode $(stat -c %a cluster.token), not 600"
[[ -f checkpoints/latest.npz ]] || fail "the chief wrote no checkpoint"
[[ -z $(leftover_unetrun) ]] || fail "unetrun still running after a good run: $(leftover_unetrun)"

# (c) worker 1 ends at once (a NUMA node this host lacks): the PS and the chief would wait
# for it for ever; the playbook must stop them, fail, and say which task and why.
read -r ps w0 w1 <<< "$(free_ports 3)"
write_cluster "$work/bad.toml" "$ps" "$w0" "$w1" "numa_node = 4095"
if "$repo/scripts/run_distributed_training.sh" bad.toml "${flags[@]}" > bad.out 2>&1; then
  cat bad.out
  fail "the playbook succeeded though worker 1 could not start"
fi
grep -q "worker 1 on 127.0.0.1: it ended: unetrun: .*--numa_node 4095: no such NUMA node" bad.out || { cat bad.out; fail "worker 1's failure not named"; }
[[ -z $(leftover_unetrun) ]] || fail "unetrun still running after a failed run: $(leftover_unetrun)"

echo "ansible_local: ok in $((SECONDS - start)) s"
