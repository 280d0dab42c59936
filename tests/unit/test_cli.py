"""The sosw command line without AWS: parsing, one-line errors, tables and progress."""

import io
import subprocess
import sys

import pytest

from sosw.cli import Progress, build_parser, format_table, main, status_table


@pytest.mark.parametrize("argv, command", [
    (["demo"], "demo"),
    (["local", "up", "--tick", "0"], "local"),
    (["deploy", "--worker", "w"], "deploy"),
    (["config", "upload", "w"], "config"),
    (["schedule", "w", "job.json"], "schedule"),
    (["tick", "orchestrator"], "tick"),
    (["status"], "status"),
])
def test_every_subcommand_parses(argv, command):
    assert build_parser().parse_args(argv).command == command


def test_python_dash_m_sosw_prints_help():
    done = subprocess.run([sys.executable, "-m", "sosw", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("demo", "local", "deploy", "config", "schedule", "tick", "status"):
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
