"""
The ``sosw`` command line (also ``python -m sosw``).

.. code-block:: text

    sosw demo                                   the hashtags tutorial end to end on the embedded runtime
    sosw local up [--tick 1]                    run the embedded AWS until Ctrl-C; prints what to export
    sosw init NAME                              scaffold a Worker project in ./NAME
    sosw deploy [--worker NAME]                 deploy the Essentials' stacks (and Workers) where boto3 points
    sosw config upload [WORKER]                 upload the Essentials' configs (registering WORKER)
    sosw schedule LABOURER JOB.json             give a job to the Scheduler
    sosw tick orchestrator|scavenger            run one Essential once
    sosw status                                 task counts per Labourer
    sosw cleanup [--yes]                        delete every stack that deploy made

Global options, accepted before or after the command: ``--region``, ``--profile``, ``--json`` (one JSON document on
stdout, for scripts), ``--debug`` (tracebacks and debug logs), and ``--version``. Errors are one line on stderr.
"""

import argparse
import json
import logging
import os
import platform
import signal
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from sosw import __version__
from sosw._cli_status import (  # noqa: F401 - the status helpers are importable from here, as they were
    STATES,
    async_retry_warnings,
    collect_status,
    config_problems,
    format_table,
    status_document,
    status_table,
    status_task_manager,
)

TUTORIAL_WORKER = "sosw_tutorial_pull_tweeter_hashtags"
#: The keys of a job that name its Labourer, at the top of the event or inside its ``job``.
LABOURER_KEYS = ("lambda_name", "labourer_id")


class CliError(Exception):
    """An error the user can act on; printed as one line."""


def _examples_dir(given: Optional[str]) -> Path:
    """``--examples``, else ``./examples`` when it has the Essentials (a checkout, or a copy to edit), else the
    examples installed with sosw."""
    from sosw import deployer

    if given:
        if not (Path(given) / "essentials").is_dir():
            raise CliError(f"--examples: {given} has no essentials/ folder")
        return Path(given).resolve()
    local = Path.cwd() / "examples"
    return local.resolve() if (local / "essentials").is_dir() else deployer.default_examples_dir()


def _worker_dirs(names: Sequence[str]) -> Tuple[List[str], List[Path]]:
    """Names and outside folders of the Workers given to ``--worker``: a Worker is a folder path, ``./NAME`` or the
    current folder when it is named NAME and has the stack template (a project of ``sosw init``); else it is looked
    for under the examples' ``workers/``.

    :return: The Worker names, and the folders of those found outside the examples.
    """
    found, folders = [], []
    for given in names:
        name = Path(given).name
        for candidate in (Path(given), Path.cwd() / given, Path.cwd()):
            if candidate.resolve().name == name and (candidate / f"{name.replace('_', '-')}.yaml").is_file():
                folders.append(candidate.resolve())
                break
        found.append(name)
    return found, folders


def _versions() -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "missing"

    return (f"sosw {__version__} (boto3 {version('boto3')}, botocore {version('botocore')}, "
            f"Python {platform.python_version()})")


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


# Commands --------------------------------------------------------------------------------------------------------
# Each returns what it prints with --json; it prints its human output itself through ``say``, which --json silences.

def say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text)


def _stack_statuses(args: argparse.Namespace, statuses: Dict[str, str]) -> Dict[str, str]:
    failed = {name: s for name, s in statuses.items() if not s.endswith("_COMPLETE") or "ROLLBACK" in s}
    if failed:
        raise CliError(f"stacks not deployed: {failed}")
    return statuses


def cmd_deploy(args: argparse.Namespace) -> Any:
    from sosw import deployer

    workers, folders = _worker_dirs(args.worker or ())
    statuses = deployer.deploy(_examples_dir(args.examples), workers=workers, worker_dirs=folders, pip=args.pip,
                               log=lambda line: say(args, line))
    return _stack_statuses(args, statuses)


def cmd_cleanup(args: argparse.Namespace) -> Any:
    from sosw import deployer

    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("cleanup deletes every sosw stack: pass --yes")
        what = "tables and their data included" if args.delete_data else "the tables are kept"
        answer = input(f"Delete every sosw stack in {_where()}, {what}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise CliError("cleanup: nothing deleted")
    _workers, folders = _worker_dirs(args.worker or ())
    statuses = deployer.cleanup(_examples_dir(args.examples), worker_dirs=folders, log=lambda line: say(args, line),
                                deadline=args.deadline, delete_data=args.delete_data)
    left = {name: status for name, status in statuses.items() if status != "DELETE_COMPLETE"}
    if left:
        raise CliError(f"stacks not deleted: {left}")
    if not statuses:
        say(args, "No sosw stack found.")
    return statuses


def _where() -> str:
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    return f"{boto3.Session().region_name or 'no region'}{f' at {endpoint}' if endpoint else ''}"


def cmd_config_upload(args: argparse.Namespace) -> Any:
    from sosw import deployer

    examples = _examples_dir(args.examples)
    workers, folders = _worker_dirs([args.worker] if args.worker else [])
    worker = workers[0] if workers else None
    configs = deployer.upload_configs(examples, worker=worker, worker_dir=folders[0] if folders else None,
                                      log=lambda line: say(args, line))
    # A function reads its config once per container: without this, running ones go on with the old rows.
    stacks = deployer.discover_stacks(examples, workers=workers, worker_dirs=folders)
    recycled = deployer.recycle_functions([s.function for s in stacks if s.function], log=lambda line: say(args, line))
    return {"configs": sorted(configs), "recycled": recycled}


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


def job_payload(labourer: str, job: Dict[str, Any], path: str = "JOB.json") -> Dict[str, Any]:
    """The Scheduler's event for ``job`` run by ``labourer``.

    The Scheduler takes the Labourer the job itself names (``job.lambda_name`` first), so a job naming another one
    than ``labourer`` is refused rather than run by the other.

    :raises CliError: Naming the key of the job that disagrees.
    """
    inner: Dict[str, Any] = job["job"] if isinstance(job.get("job"), dict) else {}
    for prefix, holder in (("", job), ("job.", inner)):
        for key in LABOURER_KEYS:
            named = holder.get(key)
            if named is not None and str(named).split(":")[-1] != labourer and named != labourer:
                raise CliError(f"JOB.json: {path} has {prefix}{key} {named!r} but LABOURER is {labourer!r}; "
                               f"make them agree")
    return {**job, "lambda_name": labourer}


def invoke(function_name: str, payload: Any) -> Any:
    """Invoke a function synchronously where boto3 points; its decoded result, or CliError with its error."""
    from sosw.components._boto import make_client
    from sosw.exceptions import InvocationError
    from sosw.local.runtime import invoke_sync, is_not_deployed

    try:
        return invoke_sync(make_client("lambda"), function_name, payload)
    except InvocationError as err:
        raise CliError(str(err)) from None
    except Exception as err:
        if is_not_deployed(err):
            message = f"{function_name} is not deployed where boto3 points ({_where()}): run sosw deploy"
            raise CliError(message) from None
        raise


def cmd_schedule(args: argparse.Namespace) -> Any:
    result = invoke("sosw_scheduler", job_payload(args.labourer, _read_job(args.job), args.job))
    say(args, json.dumps(result, indent=2, default=str))
    return result


def cmd_tick(args: argparse.Namespace) -> Any:
    result = invoke(f"sosw_{args.essential}", {"source": "sosw.cli"})
    say(args, json.dumps(result, indent=2, default=str))
    return result


def cmd_status(args: argparse.Namespace) -> Any:
    task_manager = status_task_manager()
    status = collect_status(task_manager)
    say(args, status_table(status))
    for warning in async_retry_warnings(task_manager.get_labourers()):
        print(f"sosw: warning: {warning}", file=sys.stderr)
    problems = config_problems()
    if problems:
        if args.json:
            print(json.dumps(status_document(status), default=str))
        raise CliError("config refused: " + "; ".join(f"{name}: {text}" for name, text in problems.items()))
    return status_document(status)


def cmd_init(args: argparse.Namespace) -> Any:
    from sosw.scaffold import init_worker

    project = init_worker(args.name, parent=args.directory)
    say(args, f"Made {project}. Its tests: cd {project.name} && python -m pytest\n"
              f"Deploy it into the embedded runtime (sosw local up): sosw deploy --worker {args.name} && "
              f"sosw config upload {args.name}")
    return {"project": str(project)}


def cmd_local_up(args: argparse.Namespace) -> Any:
    from sosw.local.runtime import LocalRuntime

    with LocalRuntime(_examples_dir(args.examples), tick_period=args.tick, moto_port=args.port,
                      lambda_port=args.lambda_port, region=os.environ.get("AWS_REGION")) as runtime:
        if args.json:
            print(json.dumps({"environment": runtime.environ(), "log_dir": str(runtime.log_dir)}), flush=True)
        say(args, "The embedded AWS runs. In another shell:")
        for name, value in runtime.environ().items():
            say(args, f"  export {name}={value}")
        say(args, f"Function logs, removed when it stops: {runtime.log_dir}")
        if args.tick > 0:
            runtime.start_ticker()
            say(args, f"Orchestrator and Scavenger tick every {args.tick:g} s once deployed. Ctrl-C stops everything.")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            say(args, "\nstopping")
    return None


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
             out: Callable[[str], None] = print, region: Optional[str] = None) -> Dict[str, Any]:
    """The tutorial end to end on the embedded runtime; returns the final status and results rows."""
    from sosw.local.runtime import LocalRuntime

    worker_dir = examples / "workers" / TUTORIAL_WORKER
    job = json.loads((worker_dir / "config" / "task.json").read_text())
    results_table_name = json.loads((worker_dir / "config" / "self.json").read_text())["dynamo_db_config"][
        "table_name"]
    started = time.monotonic()
    with LocalRuntime(examples, tick_period=tick, region=region) as runtime:
        out(f"Embedded AWS on {runtime.moto.endpoint}, Lambda on {runtime.environ()['AWS_ENDPOINT_URL_LAMBDA']}")
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
                runtime.keep_files = True
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


def cmd_demo(args: argparse.Namespace) -> Any:
    outcome = run_demo(_examples_dir(args.examples), tick=args.tick, timeout=args.timeout,
                       out=lambda line: say(args, line), region=os.environ.get("AWS_REGION"))
    return {"status": status_document(outcome["status"]), "scheduled": outcome["scheduled"]}


# Entry point -----------------------------------------------------------------------------------------------------

class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Examples keep their lines; options show their defaults."""


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes. On the commands they default to "not given" (SUPPRESS), so that a value
    given before the command is not overwritten by the command's default."""
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("global options")
    group.add_argument("--region", default=default(None), help="AWS region (else AWS_REGION, the profile's, ...)")
    group.add_argument("--profile", default=default(None), help="AWS profile of ~/.aws/config (else AWS_PROFILE)")
    group.add_argument("--json", action="store_true", default=default(False),
                       help="print one JSON document on stdout instead of text, for scripts")
    group.add_argument("--debug", action="store_true", default=default(False),
                       help="show tracebacks and debug logs")
    return options


def build_parser() -> argparse.ArgumentParser:
    common = [_global_options(defaults=False)]
    parser = argparse.ArgumentParser(
        prog="sosw", parents=[_global_options(defaults=True)], formatter_class=_Formatter,
        description="Serverless Orchestrator of Serverless Workers: chunk jobs into tasks and run them on AWS Lambda. "
                    "Every command talks to where boto3 points: an AWS account, or the embedded runtime once the "
                    "lines `sosw local up` prints are exported.",
        epilog="examples:\n  sosw demo\n  sosw init my_worker\n  sosw --region eu-west-1 status --json")
    parser.add_argument("--version", action="version", version=_versions())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, summary: str, description: str, examples: Sequence[str],
                func: Callable[[argparse.Namespace], Any]) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=summary, description=f"{summary}. {description}".strip(),
                                epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                                parents=common, formatter_class=_Formatter)
        sub.set_defaults(func=func)
        return sub

    def examples_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--examples", metavar="DIR",
                         help="examples folder with essentials/ (default: ./examples if there, else the installed one)")

    demo = command(commands, "demo", "Run the hashtags tutorial end to end on the embedded runtime",
                   "Starts moto and the local Lambda service, deploys the stacks, uploads the configs, schedules "
                   "the tutorial job and ticks until its 36 tasks are closed, then stops everything.",
                   ["sosw demo", "sosw demo --tick 0.5 --json"], cmd_demo)
    examples_option(demo)
    demo.add_argument("--tick", type=float, default=1.0, help="seconds between Orchestrator/Scavenger runs")
    demo.add_argument("--timeout", type=float, default=110.0, help="give up after this many seconds")

    local = commands.add_parser("local", help="The embedded runtime (moto + the local Lambda service)",
                                description="The embedded runtime: AWS on this machine, for development and tests.",
                                epilog="examples:\n  sosw local up\n  sosw local up --tick 0 --port 5000",
                                parents=common, formatter_class=_Formatter)
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    up = command(local_commands, "up", "Run the embedded AWS until Ctrl-C or SIGTERM",
                 "Prints the variables to export in another shell; functions deployed there with `sosw deploy` "
                 "run with their own code. Everything it started, and its temporary files, go when it stops.",
                 ["sosw local up", "sosw local up --tick 0        # tick by hand with sosw tick"], cmd_local_up)
    examples_option(up)
    up.add_argument("--tick", type=float, default=1.0, help="seconds between ticks; 0 to not tick")
    up.add_argument("--port", type=int, help="moto server port (default: a free one)")
    up.add_argument("--lambda-port", type=int, default=0, help="Lambda service port (default: a free one)")

    init = command(commands, "init", "Scaffold a Worker project in ./NAME",
                   "app.py (a Worker), its CloudFormation template, its configs, a job example, a unit test and an "
                   "integration test on the embedded runtime. Its tests pass as made: cd NAME && python -m pytest.",
                   ["sosw init my_worker", "sosw init my_worker --directory ~/src"], cmd_init)
    init.add_argument("name", metavar="NAME", help="the Worker's function name: lowercase letters, digits, _")
    init.add_argument("--directory", metavar="DIR", help="where to create NAME/ (default: here)")

    deploy = command(commands, "deploy", "Deploy the stacks where boto3 points",
                     "Bucket, tables, topic, the four Essentials and the scheduled rules, then each --worker. Safe "
                     "to run again: existing stacks are updated and functions get the new code.",
                     ["sosw deploy", "sosw deploy --worker sosw_tutorial_pull_tweeter_hashtags",
                      "sosw deploy --worker my_worker           # ./my_worker made by sosw init, or run inside it"],
                     cmd_deploy)
    examples_option(deploy)
    deploy.add_argument("--worker", action="append", metavar="NAME",
                        help="also deploy this Worker: a folder made by sosw init or examples/workers/NAME "
                             "(repeatable)")
    deploy.add_argument("--pip", action="store_true",
                        help="pip install each function's requirements.txt into its package instead of copying "
                             "them from this environment (never the package index's sosw: this one is copied)")

    config = commands.add_parser("config", help="Configs in the config table",
                                 description="Configs in the config table.",
                                 epilog="examples:\n  sosw config upload my_worker", parents=common,
                                 formatter_class=_Formatter)
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    upload = command(config_commands, "upload", "Upload the Essentials' configs, registering WORKER as a Labourer",
                     "Writes the rows of essentials/.config (and WORKER's config/self.json), keeps the Labourers "
                     "registered before, then recycles the deployed functions so that their next invocations read "
                     "the new rows.",
                     ["sosw config upload", "sosw config upload sosw_tutorial_pull_tweeter_hashtags"],
                     cmd_config_upload)
    upload.add_argument("worker", nargs="?", metavar="WORKER", help="register this Worker as a Labourer")
    examples_option(upload)

    schedule = command(commands, "schedule", "Give a job to the Scheduler",
                       "Invokes sosw_scheduler with the job of JOB.json for LABOURER and prints its answer. A job "
                       "that names another Labourer is refused.",
                       ["sosw schedule my_worker my_worker/config/task.json",
                        "sosw schedule my_worker job.json --json"],
                       cmd_schedule)
    schedule.add_argument("labourer", metavar="LABOURER", help="the Worker function to run the tasks")
    schedule.add_argument("job", metavar="JOB.json", help="JSON file with the job")

    tick = command(commands, "tick", "Run the Orchestrator or the Scavenger once",
                   "What their scheduled rules do every minute; with `sosw local up --tick 0`, step by step.",
                   ["sosw tick orchestrator", "sosw tick scavenger --json"], cmd_tick)
    tick.add_argument("essential", choices=("orchestrator", "scavenger"))

    command(commands, "status", "Task counts per Labourer and state",
            f"States: {', '.join(STATES)}. Labourers are those of the config row sosw_essential_config.",
            ["sosw status", "sosw status --json"], cmd_status)

    cleanup = command(commands, "cleanup", "Delete every stack that deploy made",
                      "Workers, scheduled rules, Essentials, then tables, topic and the bucket (emptied first). Asks "
                      "first on a terminal; --yes elsewhere. CloudWatch log groups that Lambda made stay.",
                      ["sosw cleanup", "sosw cleanup --yes --worker my_worker", "sosw cleanup --yes --delete-data"],
                      cmd_cleanup)
    examples_option(cleanup)
    cleanup.add_argument("--yes", action="store_true", help="do not ask")
    cleanup.add_argument("--delete-data", action="store_true",
                         help="also delete the tables, which their stack retains, with their data")
    cleanup.add_argument("--worker", action="append", metavar="NAME",
                         help="also delete this Worker made by sosw init (repeatable)")
    cleanup.add_argument("--deadline", type=int, default=3600, help="seconds after which to give up")
    return parser


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM unwinds like Ctrl-C, so that the runtime's with-block stops moto and removes its files.
    raise SystemExit(128 + signum)


def _apply_aws_options(args: argparse.Namespace) -> None:
    """--region and --profile, through the environment: boto3 clients everywhere (and subprocesses) follow it."""
    if args.region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    _apply_aws_options(args)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        document = args.func(args)
        if args.json:
            print(json.dumps(document, default=str))
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        if args.debug:
            raise
        from sosw.exceptions import SoswError

        text = str(err) if isinstance(err, (CliError, SoswError)) else f"{type(err).__name__}: {err}"
        print(f"sosw: error: {text}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
