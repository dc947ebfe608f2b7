#!/usr/bin/env python3
"""CPU per create, by process, for `make bench` (issue 25).

`cpu_ticks.py snapshot FILE` records every process's user+system clock ticks (/proc/PID/stat,
all threads of the process) into FILE. `cpu_ticks.py report BEFORE AFTER CREATES` prints a
Markdown table of the CPU each group of processes spent between the two snapshots, per create.
A process born between them counts from zero; one that exited between them is lost (the
services and PostgreSQL's pooled backends live through a run).
"""
import json
import os
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Process names (/proc/PID/comm) by the part of the pipeline they are.
GROUPS = {
    "postgres": "PostgreSQL",
    "engine": "engine",
    "analytics": "analytics",
    "beam.smp": "RabbitMQ",
    "erl_child_setup": "RabbitMQ",
    "epmd": "RabbitMQ",
    "inet_gethost": "RabbitMQ",
    "gateway": "gateway",
    "notification": "notification",
    "redis-server": "Redis",
}
ORDER = ["PostgreSQL", "engine", "analytics", "RabbitMQ", "gateway", "notification", "Redis"]


def snapshot():
    ticks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The name is in parentheses and may hold spaces; the fields after it are fixed.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        ticks[pid] = [name, int(fields[11]) + int(fields[12])]
    return ticks


def report(before, after, creates):
    spent = {}
    loadgen = 0
    for pid, (name, now) in after.items():
        then = before.get(pid)
        delta = now - (then[1] if then and then[0] == name else 0)
        if name == "loadgen":
            loadgen += delta
        group = GROUPS.get(name)
        if group:
            spent[group] = spent.get(group, 0) + delta
    ms = lambda t: 1000.0 * t / CLK_TCK / creates
    total = sum(spent.values())
    print("| process | CPU per create |")
    print("|---|---|")
    for group in ORDER:
        print(f"| {group} | {ms(spent.get(group, 0)):.3f} ms |")
    print(f"| **all of the pipeline** | **{ms(total):.3f} ms** (target: at most 1.5 ms) |")
    print(f"| the load generator (not counted) | {ms(loadgen):.3f} ms |")
    print(f"| creates measured | {creates} |")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        with open(sys.argv[2], "w") as f:
            json.dump(snapshot(), f)
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        with open(sys.argv[2]) as f:
            before = json.load(f)
        with open(sys.argv[3]) as f:
            after = json.load(f)
        report(before, after, max(int(sys.argv[4]), 1))
    else:
        sys.exit("usage: cpu_ticks.py snapshot FILE | report BEFORE AFTER CREATES")


if __name__ == "__main__":
    main()
