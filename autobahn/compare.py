#!/usr/bin/env python3
"""Compares an Autobahn fuzzingclient report with the committed expected results.

    compare.py REPORTS/index.json expected-results.json [--update | --subset]

Prints one summary line, then every difference. Fails (exit 1) on a case whose verdict
differs from the expected one, a case missing from either side (with --subset, the run may
leave cases out: only a selection was run), any verdict other than OK or INFORMATIONAL, or
a closing handshake that was not OK or INFORMATIONAL.
"""

import collections
import json
import sys

GOOD = {"OK", "INFORMATIONAL"}
ORDER = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def case_key(case_id):
    return [int(part) for part in case_id.split(".")]


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] not in ("--update", "--subset")):
        print(__doc__, file=sys.stderr)
        return 2
    index_path, expected_path = argv[1], argv[2]
    with open(index_path) as f:
        results = next(iter(json.load(f).values()))
    verdicts = {case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]} for case, r in results.items()}

    counts = collections.Counter(v["behavior"] for v in verdicts.values())
    line = ", ".join(f"{counts.get(v, 0)} {v}" for v in ORDER)
    print(f"autobahn: {len(verdicts)} cases, {line}")

    problems = []
    for case in sorted(verdicts, key=case_key):
        verdict = verdicts[case]
        if verdict["behavior"] not in GOOD:
            problems.append(f"{case}: {verdict['behavior']}")
        if verdict["behaviorClose"] not in GOOD:
            problems.append(f"{case}: closing handshake {verdict['behaviorClose']}")

    update = argv[3:] == ["--update"]
    subset = argv[3:] == ["--subset"]
    if update:
        ordered = {case: verdicts[case] for case in sorted(verdicts, key=case_key)}
        with open(expected_path, "w") as f:
            json.dump({"ws-server": ordered}, f, indent=2)
            f.write("\n")
        print(f"autobahn: wrote {expected_path}")
    else:
        with open(expected_path) as f:
            expected = json.load(f)["ws-server"]
        for case in sorted(set(expected) | set(verdicts), key=case_key):
            want, got = expected.get(case), verdicts.get(case)
            if want is None:
                problems.append(f"{case}: not in the expected results (run with --update?)")
            elif got is None:
                if not subset:
                    problems.append(f"{case}: expected but not run")
            elif want["behavior"] != got["behavior"]:
                problems.append(f"{case}: expected {want['behavior']}, got {got['behavior']}")

    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
