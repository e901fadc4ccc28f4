#!/usr/bin/env python3
"""Reads the sandbox's counters (the JSON of GET /_sandbox/stats) on stdin and prints a short
summary for people: per dataset, its triggers, status calls and 429 answers; then the totals.
The Rocket.Chat mode's counters (woosmap-sandbox --rocketchat) get their own summary: requests,
429 answers, import operations and how many were aborted.
Used by scripts/demo.sh at its end instead of a raw JSON dump."""
import json
import sys


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def main():
    try:
        stats = json.load(sys.stdin)
    except ValueError as e:
        print(f"sandbox counters unavailable ({e})")
        return 1
    if "aborts" in stats:
        print(f"rocket.chat sandbox counters: {plural(stats.get('requests', 0), 'request')}, "
              f"{stats.get('rate_limited', 0)} answered 429 (rate limited), "
              f"{plural(stats.get('operations', 0), 'import operation')}, "
              f"{stats.get('aborts', 0)} aborted")
        return 0
    datasets = stats.get("datasets") or {}
    print(f"sandbox counters: {plural(stats.get('requests', 0), 'request')}, "
          f"{stats.get('rate_limited', 0)} answered 429 (rate limited), "
          f"{plural(stats.get('triggers_while_running', 0), 'trigger')} over a running import")
    width = max((len(i) for i in datasets), default=0)
    for ds_id, ds in sorted(datasets.items()):
        print(f"  dataset {ds_id:<{width}}  {plural(ds.get('triggers', 0), 'trigger')}, "
              f"{plural(ds.get('status_calls', 0), 'status call')}, "
              f"{ds.get('rate_limited', 0)} × 429, {plural(len(ds.get('runs') or []), 'import run')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
