#!/usr/bin/env python3
"""Writes the Ansible inventory of a distributed run from its cluster file (docs/cluster.md).

  python3 scripts/ansible/inventory.py cluster.toml [-o inv.yml] [--local]

One inventory host a task, ps<J> and worker<K> in the groups `ps` and `worker`, because
several tasks may share a machine (and Ansible keys its hosts by name): ansible_host is the
machine. The tasks' port, NUMA node and threads, and the file's token, data and checkpoint
paths become variables the playbook (distributed_train.yml) reads. Loopback hosts (and, with
--local, every host) are run with ansible_connection=local, without ssh.

Only what the playbook uses is checked here, each mistake one line naming the file; unetrun
reads the same file on every host and refuses anything else that is wrong, naming the line.
"""
import argparse
import json
import os
import sys

try:
    import tomllib  # Python 3.11
except ModuleNotFoundError:
    sys.exit("inventory.py: needs Python 3.11 or newer (for tomllib)")

LOOPBACK = ("localhost", "::1")


class Mistake(Exception):
    pass


def path_value(table, key, folder, where):
    """A path as unetrun takes it: absolute, or from the cluster file's folder."""
    if key not in table:
        return ""
    value = table[key]
    if not isinstance(value, str) or not value:
        raise Mistake(f"{where}{key} must be a non-empty string")
    if value.startswith("~"):
        raise Mistake(f"{key} '{value}': '~' is not expanded; write the full path")
    return os.path.normpath(os.path.join(folder, value))


def whole(table, key, where, lo, hi, required=False):
    if key not in table:
        if required:
            raise Mistake(f"{where} has no {key}")
        return None
    value = table[key]
    # bool is an int in Python; TOML's true is not a port.
    if isinstance(value, bool) or not isinstance(value, int):
        raise Mistake(f"{where}: {key} must be an integer")
    if not lo <= value <= hi:
        raise Mistake(f"{where}: {key} {value} out of range ({lo}..{hi})")
    return value


def tasks(root, group):
    sections = root.get(group)
    if sections is None:
        kind = "parameter servers" if group == "ps" else "workers"
        raise Mistake(f"no {kind}: add a [[{group}]] section")
    if not isinstance(sections, list) or not sections or not all(isinstance(s, dict) for s in sections):
        raise Mistake(f"{group} must be a list of [[{group}]] sections")
    out = []
    for index, section in enumerate(sections):
        where = f"[[{group}]] {index}"
        host = section.get("host")
        if host is None:
            raise Mistake(f"{where} has no host")
        if not isinstance(host, str) or not host:
            raise Mistake(f"{where}: host must be a non-empty string")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        entry = {"host": host, "port": whole(section, "port", where, 1, 65535, required=True)}
        for key, hi in (("numa_node", 4095), ("threads", 65536)):
            value = whole(section, key, where, 0 if key == "numa_node" else 1, hi)
            if value is not None:
                entry[key] = value
        out.append(entry)
    return out


def inventory(path, all_local):
    try:
        with open(path, "rb") as f:
            root = tomllib.load(f)
    except OSError as e:
        raise Mistake(f"cannot read: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise Mistake(str(e))
    if "slurm" in root:
        raise Mistake("[slurm] takes the hosts from a Slurm job; the playbook needs [[ps]] and [[worker]] "
                      "sections (under Slurm use scripts/slurm/train.sbatch)")
    folder = os.path.dirname(os.path.abspath(path))
    shared = {
        "unet_cluster_file": os.path.abspath(path),
        "unet_token_file": path_value(root, "token_file", folder, ""),
        "unet_data": path_value(root, "data", folder, ""),
        "unet_checkpoint_dir": path_value(root, "checkpoint_dir", folder, ""),
    }
    groups = {}
    for group in ("ps", "worker"):
        hosts = {}
        for index, t in enumerate(tasks(root, group)):
            h = {"ansible_host": t["host"], "unet_task_index": index, "unet_port": t["port"]}
            if "numa_node" in t:
                h["unet_numa_node"] = t["numa_node"]
            if "threads" in t:
                h["unet_threads"] = t["threads"]
            if all_local or t["host"] in LOOPBACK or t["host"].startswith("127."):
                h["ansible_connection"] = "local"
                # The Python that runs Ansible has what its modules need; the first python3 on
                # PATH (a virtual environment, pyenv) may not.
                h["ansible_python_interpreter"] = "{{ ansible_playbook_python }}"
            hosts[f"{group}{index}"] = h
        groups[group] = hosts
    return shared, groups


def yaml(shared, groups, source):
    # Every scalar as JSON, which YAML reads as it is: no quoting rules to get wrong.
    q = json.dumps
    lines = [f"# Made by scripts/ansible/inventory.py from {source}; edit the cluster file, not this.",
             "all:", "  vars:"]
    lines += [f"    {k}: {q(v)}" for k, v in shared.items()]
    lines.append("  children:")
    for group, hosts in groups.items():
        lines += [f"    {group}:", "      hosts:"]
        for name, hv in hosts.items():
            lines.append(f"        {name}:")
            lines += [f"          {k}: {q(v)}" for k, v in hv.items()]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description="Ansible inventory from a unet cluster file")
    p.add_argument("cluster_file")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    p.add_argument("--local", action="store_true", help="run every task here (ansible_connection=local)")
    a = p.parse_args()
    try:
        shared, groups = inventory(a.cluster_file, a.local)
    except Mistake as e:
        sys.exit(f"inventory.py: {a.cluster_file}: {e}")
    text = yaml(shared, groups, os.path.abspath(a.cluster_file))
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
