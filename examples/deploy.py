"""
Deploy sosw: the initial stacks (bucket, tables, topic), the Essentials, the scheduled rules and the Workers you name,
into the account and region boto3 is configured for. Safe to run again: existing stacks are updated and functions get
the new code.

    python3 examples/deploy.py                                              # everything but the Workers
    python3 examples/deploy.py --worker sosw_tutorial_pull_tweeter_hashtags
    python3 examples/deploy.py --stack sosw-orchestrator --stack sosw-scheduler
    python3 examples/deploy.py --pip     # package `pip install -r requirements.txt` instead of this repository's sosw
"""

import argparse
import logging
import sys
from pathlib import Path

CLONE = Path(__file__).resolve().parent.parent
if (CLONE / "sosw").is_dir():  # run from a clone without installing sosw (installed, this folder is sosw/_examples)
    sys.path.insert(0, str(CLONE))

from sosw.deployer import DeployError, deploy  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="append", default=[], metavar="NAME",
                        help="also deploy the Worker in examples/workers/NAME (repeatable)")
    parser.add_argument("--stack", action="append", metavar="NAME", help="deploy only this stack (repeatable)")
    parser.add_argument("--pip", action="store_true", help="pip install requirements.txt into each package")
    parser.add_argument("--examples", type=Path, default=Path(__file__).resolve().parent, help="examples directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        statuses = deploy(args.examples, stacks=args.stack, workers=args.worker, pip=args.pip)
    except DeployError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0 if all(status.endswith("_COMPLETE") and "ROLLBACK" not in status for status in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
