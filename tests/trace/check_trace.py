#!/usr/bin/env python3
"""An independent reader of unetrun's --trace file: Python's json, nothing of ours.

  check_trace.py FILE --dump DUMP --steps A:B [--min-threads N] [--max-threads N] [--lists forward,...]
  check_trace.py FILE --summary

Checks that the file is one JSON object in the Chrome trace-event format, that every event is
complete ("ph": "X") or metadata ("ph": "M"), that each traced step names every op of each list
of the plan (labels and kernels as `unetc --dump` prints them) in every pass of that list, that
the work items an op's chunks cover tile [0, of) exactly, that each thread with op events has a
name, and that no two ops on one thread overlap (Chrome draws a thread's events as a stack).
Prints a one-line JSON summary; exits 1 naming every failure.
"""
import argparse
import json
import re
import sys
from collections import defaultdict


def parse_dump(path):
    """The op labels and kernels of each list, in order: {"forward": [(label, kernel)], ...}."""
    ops, section = {}, None
    for line in open(path):
        head = re.match(r"^(forward|backward|update) ops \d+$", line.rstrip())
        if head:
            section = head.group(1)
            ops[section] = []
            continue
        if re.match(r"^\S", line) or line.strip() == "":
            section = None
            continue
        if section and line.startswith("  "):
            fields = line.split()
            ops[section].append((fields[1], fields[2]))
    return ops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--dump")
    ap.add_argument("--steps", help="A:B, the global steps that must be traced (none: no step)")
    ap.add_argument("--min-threads", type=int, default=1)
    ap.add_argument("--max-threads", type=int, default=1 << 20)
    ap.add_argument("--lists", default="forward,backward,update",
                    help="the op lists the process runs (a worker of the parameter server: forward,backward)")
    ap.add_argument("--summary", action="store_true", help="only parse and summarise")
    args = ap.parse_args()

    failures = []

    def expect(ok, what):
        if not ok:
            failures.append(what)
        return ok

    try:
        with open(args.file, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{args.file}: not JSON: {e}")
        return 1
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        print(f"{args.file}: no traceEvents list")
        return 1
    events = doc["traceEvents"]
    names = {}  # tid -> thread name
    op_events, step_events, pass_events = [], [], []
    for k, e in enumerate(events):
        ph = e.get("ph")
        if not expect(ph in ("X", "M"), f"event {k}: ph {ph!r}, want X or M"):
            continue
        if not expect(isinstance(e.get("pid"), int) and isinstance(e.get("tid"), int), f"event {k}: no pid/tid"):
            continue
        if ph == "M":
            if e.get("name") == "thread_name":
                names[e["tid"]] = e["args"]["name"]
            continue
        ok = (isinstance(e.get("name"), str) and isinstance(e.get("ts"), (int, float)) and
              isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0 and isinstance(e.get("args"), dict))
        if not expect(ok, f"event {k}: a complete event needs name, ts, dur >= 0, args: {e}"):
            continue
        cat = e.get("cat")
        if cat in ("forward", "backward", "update"):
            a = e["args"]
            ok = (isinstance(a.get("kernel"), str) and isinstance(a.get("of"), int) and isinstance(a.get("step"), int)
                  and isinstance(a.get("pass"), int) and re.fullmatch(r"\d+-\d+", str(a.get("items", ""))))
            if expect(ok, f"event {k}: an op event needs kernel, items b-e, of, step, pass: {e}"):
                op_events.append(e)
        elif cat == "step":
            step_events.append(e)
        elif cat == "pass":
            pass_events.append(e)
        else:
            expect(False, f"event {k}: unknown category {cat!r}")

    threads = sorted({e["tid"] for e in op_events})
    for tid in threads:
        expect(tid in names, f"thread {tid} has op events but no thread_name")
    traced = sorted(e["args"]["step"] for e in step_events)
    summary = {"events": len(events), "op_events": len(op_events), "steps": traced,
               "ops": len({(e["cat"], e["name"]) for e in op_events}),
               "threads": [names.get(t, "?") for t in threads],
               "model": doc.get("otherData", {}).get("model")}
    if args.summary:
        print(json.dumps(summary))
        return 1 if failures else 0

    want = []
    if args.steps:
        a, b = (int(x) for x in args.steps.split(":"))
        want = list(range(a, b + 1))
    expect(traced == want, f"traced steps {traced}, want {want}")
    expect(sorted({e["args"]["step"] for e in op_events}) == want,
           f"op events of steps {sorted({e['args']['step'] for e in op_events})}, want {want}")
    expect(not want or args.min_threads <= len(threads) <= args.max_threads,
           f"{len(threads)} threads ran ops ({summary['threads']}), want {args.min_threads} to {args.max_threads}")

    # Every pass of every list in every traced step names each op of that list, once, with its
    # kernel, and its chunks tile the op's work items.
    plan_ops = {lst: ops for lst, ops in parse_dump(args.dump).items() if lst in args.lists.split(",")}
    expect(plan_ops.get("forward"), f"{args.dump}: no forward ops")
    chunks = defaultdict(list)  # (step, list, pass, label) -> [(begin, end, of, kernel)]
    for e in op_events:
        b, _, end = e["args"]["items"].partition("-")
        chunks[(e["args"]["step"], e["cat"], e["args"]["pass"], e["name"])].append(
            (int(b), int(end), e["args"]["of"], e["args"]["kernel"]))
    passes = defaultdict(set)  # (step, list) -> passes seen
    for (step, lst, p, _) in chunks:
        passes[(step, lst)].add(p)
    for step in want:
        for lst, ops in plan_ops.items():
            if not ops:
                continue
            seen = passes.get((step, lst), set())
            if not expect(seen, f"step {step}: no {lst} op traced"):
                continue
            for p in sorted(seen):
                for label, kernel in ops:
                    c = sorted(chunks.get((step, lst, p, label), []))
                    if not expect(c, f"step {step} {lst} pass {p}: op '{label}' missing"):
                        continue
                    expect(all(k == kernel for *_, k in c), f"step {step} {lst} '{label}': kernel {c[0][3]}, want {kernel}")
                    of = c[0][2]
                    pos = 0
                    for (b, end, o, _) in c:
                        expect(o == of and b == pos and end >= b, f"step {step} {lst} '{label}': chunks {c} do not tile")
                        pos = end
                    expect(pos == of, f"step {step} {lst} '{label}': chunks {c} end at {pos}, want {of}")
        names_in_plan = {(lst, label) for lst, ops in plan_ops.items() for label, _ in ops}
        for (s, lst, _, label) in chunks:
            if s == step:
                expect((lst, label) in names_in_plan, f"step {step}: op '{label}' ({lst}) is not in the plan")

    # One thread runs one op chunk at a time: its events must not overlap (1 ns of rounding).
    by_thread = defaultdict(list)
    for e in op_events:
        by_thread[e["tid"]].append((e["ts"], e["ts"] + e["dur"], e["name"]))
    for tid, spans in by_thread.items():
        spans.sort()
        for (t0, t1, n0), (u0, _, n1) in zip(spans, spans[1:]):
            expect(u0 >= t1 - 0.002, f"thread {names.get(tid, tid)}: '{n1}' at {u0} starts inside '{n0}' ({t0}-{t1})")
    # Each step contains its passes; each op event lies inside its step.
    step_span = {e["args"]["step"]: (e["ts"], e["ts"] + e["dur"]) for e in step_events}
    for e in pass_events + op_events:
        s = step_span.get(e["args"]["step"])
        if expect(s, f"'{e['name']}' of step {e['args']['step']}: no such step event"):
            expect(e["ts"] >= s[0] - 0.002 and e["ts"] + e["dur"] <= s[1] + 0.002,
                   f"'{e['name']}' ({e['ts']}+{e['dur']}) lies outside step {e['args']['step']} {s}")

    if failures:
        for f in failures[:40]:
            print(f"{args.file}: {f}")
        if len(failures) > 40:
            print(f"... and {len(failures) - 40} more")
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
