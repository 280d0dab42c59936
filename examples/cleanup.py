"""
Delete every sosw stack of the examples (Workers, scheduled rules, Essentials, then tables, topic and bucket) from
the account and region boto3 is configured for. The bucket is emptied first: CloudFormation cannot delete a bucket
that holds objects. Rounds repeat until no stack is left or the deadline passes.

    python3 examples/cleanup.py

Left behind on purpose (not created by CloudFormation): the CloudWatch log groups /aws/lambda/<function>.
"""

import argparse
import logging
import sys
from pathlib import Path

CLONE = Path(__file__).resolve().parent.parent
if (CLONE / "sosw").is_dir():  # run from a clone without installing sosw (installed, this folder is sosw/_examples)
    sys.path.insert(0, str(CLONE))

from sosw.deployer import DeployError, cleanup  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deadline", type=int, default=3600, help="seconds after which to give up (default 3600)")
    parser.add_argument("--examples", type=Path, default=Path(__file__).resolve().parent, help="examples directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        statuses = cleanup(args.examples, deadline=args.deadline)
    except DeployError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not statuses:
        print("No sosw stack found.")
    return 0 if all(status == "DELETE_COMPLETE" for status in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
