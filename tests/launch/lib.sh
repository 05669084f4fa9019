# Shared by the launch tests (sourced): a tiny run's data, plan and cluster file, free ports,
# and the processes a test leaves behind. Needs $work (the test's folder) and the tools'
# paths in $unetc $unetsynth $unetconvert.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Three synthetic subjects of 8 slices (2 train, 1 test) cropped to 16x16, and the tiny
# model compiled for micro-batches of 2: batch_size 4 over 2 workers is one micro-batch each.
make_tiny_run() {
  "$unetsynth" -o "$work/raw" --subjects 3 --seed 1 --shape 32x32x8 > /dev/null 2>&1 || fail "unetsynth"
  "$unetconvert" "$work/raw" -o "$work/slices" --size 16 --train_test_split 0.67 --seed 1 > /dev/null 2>&1 ||
    fail "unetconvert"
  "$unetc" "$(dirname "${BASH_SOURCE[0]}")/tiny.def" -o "$work/plan.bin" --batch 2 > /dev/null || fail "unetc"
}

# N distinct free loopback ports, held together while they are picked so none repeats.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

# write_cluster FILE PS_PORT W0_PORT W1_PORT [LINES for worker 1]: one PS and two workers on
# loopback, a token file that does not exist yet (the launcher makes it), paths from the
# file's folder.
write_cluster() {
  cat > "$1" <<EOF
token_file = "cluster.token"
data = "slices"
checkpoint_dir = "checkpoints"
peer_timeout = 10

[[ps]]
host = "127.0.0.1"
port = $2

[[worker]]
host = "127.0.0.1"
port = $3
threads = 1

[[worker]]
host = "127.0.0.1"
port = $4
threads = 1
${5:-}
EOF
}

# Pids of the unetrun processes started on files under $work: none may outlive a test.
leftover_unetrun() {
  local pid
  for pid in $(pgrep -x unetrun || true); do
    tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF "$work/" && echo "$pid"
  done
  return 0
}

# Ends (by id) what a failed test left, so that it cannot hold ports for the next one.
stop_leftovers() {
  local pids
  pids=$(leftover_unetrun)
  [[ -z $pids ]] || kill -KILL $pids 2> /dev/null || true
}

# The section of training.log under the header that starts with $2.
log_section() {
  awk -v head="==> $2" 'index($0, "==> ") == 1 { on = index($0, head) == 1; next } on' "$1"
}
