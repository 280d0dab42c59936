"""The sosw command line without AWS: parsing, conventions, one-line errors, tables and progress."""

import io
import json
import os
import subprocess
import sys

import pytest

from sosw import __version__
from sosw.cli import Progress, build_parser, format_table, job_payload, main, status_document, status_table
from sosw.exceptions import InvocationError
from sosw.local import moto_server
from sosw.local.runtime import invoke_sync

COMMANDS = [["demo"], ["local"], ["local", "up"], ["init"], ["deploy"], ["config"], ["config", "upload"],
            ["schedule"], ["tick"], ["status"], ["cleanup"]]


@pytest.mark.parametrize("argv, command", [
    (["demo"], "demo"),
    (["local", "up", "--tick", "0"], "local"),
    (["deploy", "--worker", "w"], "deploy"),
    (["config", "upload", "w"], "config"),
    (["schedule", "w", "job.json"], "schedule"),
    (["tick", "orchestrator"], "tick"),
    (["status"], "status"),
    (["init", "my_worker"], "init"),
    (["cleanup", "--yes"], "cleanup"),
])
def test_every_subcommand_parses(argv, command):
    assert build_parser().parse_args(argv).command == command


def test_python_dash_m_sosw_prints_help():
    done = subprocess.run([sys.executable, "-m", "sosw", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("demo", "local", "init", "deploy", "config", "schedule", "tick", "status", "cleanup"):
        assert command in done.stdout


def test_a_missing_job_file_is_one_clear_line(capsys, tmp_path):
    assert main(["schedule", "my_worker", str(tmp_path / "nope.json")]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "JOB.json" in err and "nope.json" in err and "Traceback" not in err


def test_a_malformed_job_file_names_itself(capsys, tmp_path):
    job = tmp_path / "job.json"
    job.write_text("{not json")
    assert main(["schedule", "my_worker", str(job)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="JOB.json"):
        main(["--debug", "schedule", "my_worker", str(tmp_path / "nope.json")])


def test_status_table_has_every_state_per_labourer():
    text = status_table({"w": {"queued": 3, "running": 1, "closed": 7}})
    header, _, row = text.splitlines()
    assert header.split() == ["labourer", "queued", "running", "expired", "retrying", "completed", "closed", "dead"]
    assert row.split() == ["w", "3", "1", "0", "0", "0", "7", "0"]
    assert status_table({}) == "no Labourers configured"


def test_format_table_aligns_columns():
    lines = format_table(["a", "bb"], [["xyz", 1], ["q", 22]]).splitlines()
    assert lines == ["a    bb", "---  --", "xyz   1", "q    22"]


def test_progress_writes_a_line_per_change_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress("closed", 4, stream=stream, width=4)
    for done in (0, 0, 2, 4):
        progress.update(done)
    assert stream.getvalue().splitlines() == ["closed [....] 0/4", "closed [##..] 2/4", "closed [####] 4/4"]


def test_version_names_sosw_and_its_sdk(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"sosw {__version__} (boto3 ") and "botocore" in out and "Python" in out


@pytest.mark.parametrize("argv", [
    ["--debug", "--json", "--region", "eu-west-1", "--profile", "p", "status"],
    ["status", "--debug", "--json", "--region", "eu-west-1", "--profile", "p"],
    ["--debug", "status", "--json", "--region", "eu-west-1", "--profile", "p"],
    ["--region", "eu-west-1", "config", "upload", "w", "--json", "--debug", "--profile", "p"],
])
def test_global_options_are_accepted_before_or_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert (args.debug, args.json, args.region, args.profile) == (True, True, "eu-west-1", "p")


def test_global_options_default_when_not_given():
    args = build_parser().parse_args(["status"])
    assert (args.debug, args.json, args.region, args.profile) == (False, False, None, None)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_a_description_and_examples_in_its_help(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    usage, description = text.split("\n\n")[:2]
    assert usage.startswith(f"usage: sosw {' '.join(command)}")
    assert len(description.split()) >= 4, text
    assert "examples:\n  sosw " in text
    assert "--region" in text and "--json" in text


def test_region_and_profile_reach_boto3_through_the_environment(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.setenv(name, "before")  # so that monkeypatch restores what main() changes
    main(["schedule", "w", str(tmp_path / "nope.json"), "--region", "ap-south-1", "--profile", "dev"])
    assert (os.environ["AWS_REGION"], os.environ["AWS_DEFAULT_REGION"], os.environ["AWS_PROFILE"]) == \
        ("ap-south-1", "ap-south-1", "dev")


def test_a_job_naming_another_labourer_is_refused_by_name(capsys, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"job": {"lambda_name": "other_worker", "words": ["a"]}}))
    assert main(["schedule", "my_worker", str(job)]) == 1
    err = capsys.readouterr().err
    assert "job.lambda_name 'other_worker' but LABOURER is 'my_worker'" in err and err.count("\n") == 1


def test_job_payload_sets_the_labourer_where_the_job_agrees():
    assert job_payload("w", {"job": {"words": ["a"]}}) == {"job": {"words": ["a"]}, "lambda_name": "w"}
    agreeing = {"lambda_name": "w", "job": {"labourer_id": "arn:aws:lambda:us-west-2:1:function:w"}}
    assert job_payload("w", agreeing)["lambda_name"] == "w"


def test_init_makes_a_project_and_a_bad_name_is_one_line(capsys, tmp_path):
    assert main(["init", "my_worker", "--directory", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"project": str(tmp_path / "my_worker")}
    assert (tmp_path / "my_worker" / "my-worker.yaml").is_file()
    assert "__worker" not in (tmp_path / "my_worker" / "config" / "task.json").read_text()

    assert main(["init", "My-Worker", "--directory", str(tmp_path)]) == 1
    assert "NAME: 'My-Worker' must start with a lowercase letter" in capsys.readouterr().err
    assert main(["init", "my_worker", "--directory", str(tmp_path)]) == 1
    assert "exists and is not empty" in capsys.readouterr().err


def test_cleanup_off_a_terminal_needs_yes(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["cleanup"]) == 1
    assert "pass --yes" in capsys.readouterr().err


def test_status_json_has_every_state_of_every_labourer():
    assert status_document({"w": {"queued": 2}}) == {"w": {"queued": 2, "running": 0, "expired": 0, "retrying": 0,
                                                          "completed": 0, "closed": 0, "dead": 0}}


class _NotALambda:
    """A Lambda client whose endpoint answers what moto's Invoke answers when no Lambda service is in front."""

    class meta:
        endpoint_url = "http://127.0.0.1:5000"

    @staticmethod
    def invoke(**kwargs):
        return {"StatusCode": 200, "Payload": io.BytesIO(b"Simple Lambda happy path OK")}


def test_an_answer_that_is_no_json_says_to_export_the_lambda_endpoint():
    with pytest.raises(InvocationError, match="export AWS_ENDPOINT_URL_LAMBDA") as raised:
        invoke_sync(_NotALambda(), "sosw_orchestrator")
    assert "http://127.0.0.1:5000 answered no JSON" in str(raised.value)


def test_without_the_local_extra_the_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setattr(moto_server.importlib.util, "find_spec", lambda name: None if name == "moto" else object())
    with pytest.raises(RuntimeError, match=r"needs moto: pip install 'sosw\[local\]'"):
        moto_server.MotoServer().start()
