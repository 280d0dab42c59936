"""
The ``sosw`` command line (also ``python -m sosw``).

.. code-block:: text

    sosw demo                                   the hashtags tutorial end to end on the embedded runtime
    sosw local up [--tick 1]                    run the embedded AWS until Ctrl-C; prints what to export
    sosw deploy [--worker NAME]                 deploy the examples' stacks where boto3 points
    sosw config upload [WORKER]                 upload the Essentials' configs (registering WORKER)
    sosw schedule LABOURER JOB.json             give a job to the Scheduler
    sosw tick orchestrator|scavenger            run one Essential once
    sosw status                                 task counts per Labourer

Errors are one line; ``--debug`` shows the traceback.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from sosw import constants

TUTORIAL_WORKER = "sosw_tutorial_pull_tweeter_hashtags"
STATES = ("queued", "running", "expired", "retrying", "completed", "closed", "dead")


class CliError(Exception):
    """An error the user can act on; printed as one line."""


def _examples_dir(given: Optional[str]) -> Path:
    candidates = [Path(given)] if given else [Path.cwd() / "examples", Path(__file__).resolve().parent.parent /
                                              "examples"]
    for candidate in candidates:
        if (candidate / "essentials").is_dir():
            return candidate.resolve()
    raise CliError(f"no examples folder with essentials/ at {', '.join(str(c) for c in candidates)}; "
                   f"pass --examples")


def invoke(function_name: str, payload: Any) -> Any:
    """Invoke a function synchronously where boto3 points; its decoded result, or CliError with its error."""
    from sosw.components._boto import make_client
    from sosw.exceptions import InvocationError
    from sosw.local.runtime import invoke_sync

    try:
        return invoke_sync(make_client("lambda"), function_name, payload)
    except InvocationError as err:
        raise CliError(str(err)) from None


# Output ----------------------------------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on a terminal, a line per change elsewhere."""

    def __init__(self, label: str, total: int, stream: Any = None, width: int = 30):
        self.label, self.total, self.width = label, max(total, 1), width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last: Optional[str] = None

    def update(self, done: int, note: str = "") -> None:
        filled = int(self.width * min(done, self.total) / self.total)
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} {note}".rstrip()
        if line == self._last:
            return
        self._last = line
        if self.tty:
            self.stream.write("\r" + line.ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: List[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


# Status ----------------------------------------------------------------------------------------------------------

def status_task_manager() -> Any:
    """A TaskManager configured by ``sosw_essential_config``, as the Essentials are."""
    from sosw.components.config import get_config
    from sosw.managers.task import TaskManager

    essential = get_config(constants.ESSENTIAL_CONFIG_NAME)
    return TaskManager(custom_config=(essential or {}).get("task_config", {}))


def collect_status(task_manager: Any = None) -> Dict[str, Dict[str, int]]:
    """Task counts by state for every Labourer of ``sosw_essential_config``.

    :param task_manager: Reuse this one (see :func:`status_task_manager`) when asking again and again.
    """
    task_manager = task_manager or status_task_manager()
    return {labourer.id: task_manager.count_tasks_by_state(labourer)
            for labourer in task_manager.register_labourers(health=False)}


def status_table(status: Dict[str, Dict[str, int]]) -> str:
    rows = [[labourer] + [counts.get(state, 0) for state in STATES] for labourer, counts in sorted(status.items())]
    return format_table(("labourer",) + STATES, rows) if rows else "no Labourers configured"


# Commands --------------------------------------------------------------------------------------------------------

def cmd_deploy(args: argparse.Namespace) -> int:
    from sosw import deployer

    statuses = deployer.deploy(_examples_dir(args.examples), workers=tuple(args.worker or ()), log=print)
    failed = {name: s for name, s in statuses.items() if not s.endswith("_COMPLETE") or "ROLLBACK" in s}
    if failed:
        raise CliError(f"stacks not deployed: {failed}")
    return 0


def cmd_config_upload(args: argparse.Namespace) -> int:
    from sosw import deployer

    deployer.upload_configs(_examples_dir(args.examples), worker=args.worker, log=print)
    return 0


def _read_job(path: str) -> Dict[str, Any]:
    try:
        job = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CliError(f"JOB.json: no file {path}") from None
    except ValueError as err:
        raise CliError(f"JOB.json: {path} is not valid JSON ({err})") from None
    if not isinstance(job, dict):
        raise CliError(f"JOB.json: {path} must hold a JSON object")
    return job


def cmd_schedule(args: argparse.Namespace) -> int:
    job = _read_job(args.job)
    payload = {**job, "lambda_name": args.labourer}
    print(json.dumps(invoke("sosw_scheduler", payload), indent=2, default=str))
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    print(json.dumps(invoke(f"sosw_{args.essential}", {"source": "sosw.cli"}), indent=2, default=str))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    print(status_table(collect_status()))
    return 0


def cmd_local_up(args: argparse.Namespace) -> int:
    from sosw.local.runtime import LocalRuntime

    with LocalRuntime(_examples_dir(args.examples), tick_period=args.tick, moto_port=args.port,
                      lambda_port=args.lambda_port) as runtime:
        print("The embedded AWS runs. In another shell:")
        for name, value in runtime.environ().items():
            print(f"  export {name}={value}")
        print(f"Function logs: {runtime.log_dir}")
        if args.tick > 0:
            runtime.start_ticker()
            print(f"Orchestrator and Scavenger tick every {args.tick:g} s. Ctrl-C stops everything.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping")
    return 0


def results_table(table_name: str) -> str:
    """The tutorial's counts: a row per word, a column per day."""
    from sosw.components.dynamo_db import DynamoDbClient

    rows = DynamoDbClient({"table_name": table_name}).get_by_scan()
    dates = sorted({row["date"] for row in rows})
    by_word: Dict[str, Dict[str, Any]] = {}
    topic_of: Dict[str, str] = {}
    for row in rows:
        by_word.setdefault(row["word"], {})[row["date"]] = row.get("count", row.get("error", "?"))
        topic_of[row["word"]] = row.get("topic") or ""
    ordered = sorted(by_word, key=lambda w: (topic_of[w], w))
    return format_table(["word", "topic"] + dates, [[w, topic_of[w]] + [by_word[w].get(d) for d in dates]
                                                  for w in ordered])


def run_demo(examples: Path, tick: float = 1.0, timeout: float = 110.0,
             out: Callable[[str], None] = print) -> Dict[str, Any]:
    """The tutorial end to end on the embedded runtime; returns the final status and results rows."""
    from sosw.local.runtime import LocalRuntime

    worker_dir = examples / "workers" / TUTORIAL_WORKER
    job = json.loads((worker_dir / "config" / "task.json").read_text())
    results_table_name = json.loads((worker_dir / "config" / "self.json").read_text())["dynamo_db_config"][
        "table_name"]
    started = time.monotonic()
    with LocalRuntime(examples, tick_period=tick) as runtime:
        out(f"Embedded AWS on {runtime.moto.endpoint}, Lambda on {runtime.lambdas.endpoint}")
        out("Deploying the stacks into the embedded CloudFormation:")
        statuses = runtime.deploy(workers=[TUTORIAL_WORKER], log=lambda line: out(f"  {line}"))
        failed = {n: s for n, s in statuses.items() if not s.endswith("_COMPLETE") or "ROLLBACK" in s}
        if failed:
            raise CliError(f"stacks not deployed: {failed}")
        out("Uploading the Essentials' configs and registering the tutorial Worker:")
        runtime.upload_configs(TUTORIAL_WORKER, log=lambda line: out(f"  {line}"))
        out("Invoking sosw_scheduler with the tutorial job (task.json):")
        scheduled = runtime.invoke("sosw_scheduler", job)
        out(f"  {json.dumps(scheduled, default=str)}")
        task_manager = status_task_manager()  # once: polling must not rebuild clients nor re-read timeouts
        status = collect_status(task_manager)[TUTORIAL_WORKER]
        total = sum(status.values())
        out(f"  {total} tasks queued for {TUTORIAL_WORKER}")
        runtime.start_ticker()
        progress = Progress("closed", total)
        while True:
            status = collect_status(task_manager)[TUTORIAL_WORKER]
            finished = status["closed"] + status["dead"]
            progress.update(finished, f"running {status['running']}, queued {status['queued']}, "
                                      f"ticks {runtime.ticks}")
            if finished >= total:
                break
            if time.monotonic() - started > timeout:
                progress.close()
                out(status_table({TUTORIAL_WORKER: status}))
                raise CliError(f"demo: not every task closed within {timeout:g} s; logs in {runtime.log_dir}")
            time.sleep(0.5)
        progress.close()
        runtime.stop_ticker()
        final = collect_status(task_manager)
        out("")
        out(status_table(final))
        out("")
        out(f"Posts per hashtag and day ({results_table_name}):")
        out(results_table(results_table_name))
        rows = runtime.client("dynamodb").scan(TableName=results_table_name)["Items"]
    out("")
    out(f"Done in {time.monotonic() - started:.0f} s; the embedded runtime is stopped.")
    return {"status": final, "results": rows, "scheduled": scheduled}


def cmd_demo(args: argparse.Namespace) -> int:
    run_demo(_examples_dir(args.examples), tick=args.tick, timeout=args.timeout)
    return 0


# Entry point -----------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sosw", description="Serverless Orchestrator of Serverless Workers")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the hashtags tutorial end to end on the embedded runtime")
    demo.add_argument("--examples", help="examples folder (default: ./examples)")
    demo.add_argument("--tick", type=float, default=1.0, help="seconds between Orchestrator/Scavenger runs")
    demo.add_argument("--timeout", type=float, default=110.0, help="give up after this many seconds")
    demo.set_defaults(func=cmd_demo)

    local = commands.add_parser("local", help="the embedded runtime")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="run the embedded AWS until Ctrl-C")
    up.add_argument("--examples", help="examples folder, where deployed functions' code is found")
    up.add_argument("--tick", type=float, default=1.0, help="seconds between ticks; 0 to not tick")
    up.add_argument("--port", type=int, help="moto server port (default: a free one)")
    up.add_argument("--lambda-port", type=int, default=0, help="Lambda service port (default: a free one)")
    up.set_defaults(func=cmd_local_up)

    deploy = commands.add_parser("deploy", help="deploy the examples' stacks where boto3 points")
    deploy.add_argument("--examples", help="examples folder (default: ./examples)")
    deploy.add_argument("--worker", action="append", help="also deploy this worker (repeatable)")
    deploy.set_defaults(func=cmd_deploy)

    config = commands.add_parser("config", help="configs in the config table")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    upload = config_commands.add_parser("upload", help="upload the Essentials' configs")
    upload.add_argument("worker", nargs="?", help="register this worker as a Labourer")
    upload.add_argument("--examples", help="examples folder (default: ./examples)")
    upload.set_defaults(func=cmd_config_upload)

    schedule = commands.add_parser("schedule", help="give a job to the Scheduler")
    schedule.add_argument("labourer", help="the Worker function to run the tasks")
    schedule.add_argument("job", help="JSON file with the job")
    schedule.set_defaults(func=cmd_schedule)

    tick = commands.add_parser("tick", help="run the Orchestrator or the Scavenger once")
    tick.add_argument("essential", choices=("orchestrator", "scavenger"))
    tick.set_defaults(func=cmd_tick)

    status = commands.add_parser("status", help="task counts per Labourer")
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        if args.debug:
            raise
        text = str(err) if isinstance(err, CliError) else f"{type(err).__name__}: {err}"
        print(f"sosw: error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
