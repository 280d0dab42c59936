"""
Write the configs of the sosw Essentials (essentials/.config/*.json) to the config table, with your account id and
region in place of the placeholders. With a Worker name, also register that Worker as a Labourer (its
config/labourer.json goes into sosw_essential_config) and write its own config (config/self.json) as <worker>_config.
Labourers registered before are kept; running it twice writes the same rows.

    python3 examples/config_updater.py
    python3 examples/config_updater.py sosw_tutorial_pull_tweeter_hashtags
    python3 examples/config_updater.py --table my_config sosw_tutorial_pull_tweeter_hashtags

A Lambda reads its config once per container, so the script then recycles the Essentials (and the Worker): their
next invocations start fresh containers that read the new rows. Skip that with --no-recycle.
"""

import argparse
import logging
import sys
from pathlib import Path

CLONE = Path(__file__).resolve().parent.parent
if (CLONE / "sosw").is_dir():  # run from a clone without installing sosw (installed, this folder is sosw/_examples)
    sys.path.insert(0, str(CLONE))

from sosw.deployer import DeployError, discover_stacks, recycle_functions, upload_configs  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("worker", nargs="?", help="a Worker folder under examples/workers")
    parser.add_argument("--table", help="config table (default: $SOSW_CONFIG_TABLE, else 'config')")
    parser.add_argument("--env", help="value of the 'env' key (default: $SOSW_CONFIG_ENV, else 'production')")
    parser.add_argument("--no-recycle", action="store_true", help="leave the warm Lambda containers alone")
    parser.add_argument("--examples", type=Path, default=Path(__file__).resolve().parent, help="examples directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        upload_configs(args.examples, worker=args.worker, table=args.table, env=args.env)
        if not args.no_recycle:
            stacks = discover_stacks(args.examples, workers=[args.worker] if args.worker else [])
            recycle_functions([s.function for s in stacks if s.function])
    except DeployError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
