"""The pure parts of sosw.deploy (imported from sosw.deployer, where users import them): discovery, plans, packages,
config rendering, and the executor's dispatch. No AWS."""

import gzip
import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from sosw import constants, deployer
from sosw import deploy as deploy_package
from sosw.deploy.plan import Action
from sosw.deployer import (
    BUCKET_STACK,
    BuildPackage,
    DeleteStacks,
    DeployError,
    DeployStacks,
    EmptyBucket,
    Executor,
    SyncFunctionCode,
    UploadPackage,
    build_package,
    code_sha256,
    default_examples_dir,
    discover_stacks,
    first_failure,
    plan_cleanup,
    plan_deploy,
    render_configs,
)
from sosw.scaffold import init_worker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WORKER = "sosw_tutorial_pull_tweeter_hashtags"
ESSENTIALS = ["sosw-orchestrator", "sosw-scavenger", "sosw-scheduler", "sosw-worker-assistant"]
INITIAL = ["sosw-dynamo-db-tables", "sosw-sns-topics"]


def stack_names(plan):
    return [[s.name for s in action.stacks] for action in plan if isinstance(action, DeployStacks)]


def test_discover_stacks_in_deployment_order():
    stacks = discover_stacks(EXAMPLES, workers=[WORKER])
    assert [s.name for s in stacks] == [
        BUCKET_STACK,
        *INITIAL,
        *ESSENTIALS,
        "sosw-dashboard",
        "sosw-dev-scheduled-rules",
        "sosw-tutorial-pull-tweeter-hashtags",
    ]
    assert {s.function for s in stacks if s.tier == "essentials"} == {n.replace("-", "_") for n in ESSENTIALS}
    assert all(s.template.is_file() for s in stacks)


def test_discover_stacks_leaves_out_workers_not_asked_for():
    assert not [s for s in discover_stacks(EXAMPLES) if s.tier == "workers"]
    assert [s.function for s in discover_stacks(EXAMPLES, workers=None) if s.tier == "workers"] == [WORKER]


def test_discover_stacks_rejects_an_unknown_worker():
    with pytest.raises(DeployError, match="no_such_worker"):
        discover_stacks(EXAMPLES, workers=["no_such_worker"])


def test_plan_deploy_on_a_fresh_account():
    plan = plan_deploy(discover_stacks(EXAMPLES, workers=[WORKER]), existing=set())
    assert stack_names(plan) == [
        [BUCKET_STACK], INITIAL, ESSENTIALS, ["sosw-dashboard", "sosw-dev-scheduled-rules"], [WORKER.replace("_", "-")]
    ]
    # Each package is built and uploaded before the stack that runs it, and nothing is synced on creation.
    first_essential = next(i for i, a in enumerate(plan) if isinstance(a, DeployStacks) and a.stacks[0].function)
    assert {type(a) for a in plan[first_essential - 8:first_essential]} == {BuildPackage, UploadPackage}
    assert not [a for a in plan if isinstance(a, SyncFunctionCode)]
    uploads = [a.function for a in plan if isinstance(a, UploadPackage)]
    assert uploads == [n.replace("-", "_") for n in ESSENTIALS] + [WORKER]


def test_plan_deploy_refreshes_the_code_of_existing_functions():
    available = discover_stacks(EXAMPLES)
    plan = plan_deploy(available, existing={s.name for s in available})
    assert [a.function for a in plan if isinstance(a, SyncFunctionCode)] == [n.replace("-", "_") for n in ESSENTIALS]


def test_plan_deploy_of_a_selection_adds_the_missing_bucket_stack():
    available = discover_stacks(EXAMPLES)
    plan = plan_deploy(available, existing=set(INITIAL), selected=["sosw-scheduler"])
    assert stack_names(plan) == [[BUCKET_STACK], ["sosw-scheduler"]]
    plan = plan_deploy(available, existing={BUCKET_STACK, *INITIAL}, selected=["sosw-scheduler"])
    assert stack_names(plan) == [["sosw-scheduler"]]
    assert plan_deploy(available, existing=set(), selected=["sosw-sns-topics"]) == [DeployStacks((available[2],))]


def test_plan_deploy_rejects_an_unknown_stack():
    with pytest.raises(DeployError, match="sosw-nothing"):
        plan_deploy(discover_stacks(EXAMPLES), selected=["sosw-nothing"])


def test_plan_cleanup_goes_in_reverse_and_empties_the_bucket_first():
    available = discover_stacks(EXAMPLES, workers=None)
    plan = plan_cleanup(available, existing={s.name for s in available} | {"someone-elses-stack"})
    assert plan == [
        DeleteStacks(("sosw-tutorial-pull-tweeter-hashtags",)),
        DeleteStacks(("sosw-dashboard", "sosw-dev-scheduled-rules")),
        DeleteStacks(tuple(ESSENTIALS)),
        DeleteStacks(tuple(INITIAL)),
        EmptyBucket(),
        DeleteStacks((BUCKET_STACK,)),
    ]
    assert plan_cleanup(available, existing={"sosw-scheduler"}) == [DeleteStacks(("sosw-scheduler",))]
    assert plan_cleanup(available, existing={"someone-elses-stack"}) == []


def test_build_package_holds_the_function_and_the_runtime_part_of_sosw(tmp_path):
    source = tmp_path / "sosw_worker_assistant"
    shutil.copytree(EXAMPLES / "essentials" / "sosw_worker_assistant", source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    (source / "config").mkdir()
    (source / "config" / "self.json").write_text('{"bearer_token": "secret"}')
    (source / "lib").mkdir()
    (source / "lib" / "helper.py").write_text("X = 1\n")

    package = build_package(source, exclude={"sosw-worker-assistant.yaml"})
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()

    assert {"app.py", "requirements.txt", "lib/helper.py", "sosw/__init__.py", "sosw/app.py",
            "sosw/constants.py", "sosw/components/helpers.py"} <= set(names)
    assert not [n for n in names if n.startswith(("sosw/local/", "sosw/deploy/", "config/")) or "__pycache__" in n]
    assert not {"sosw/cli.py", "sosw/deployer.py", "sosw-worker-assistant.yaml"} & set(names)
    assert names == sorted(names)


def test_build_package_is_reproducible():
    source = EXAMPLES / "essentials" / "sosw_orchestrator"
    first, second = build_package(source), build_package(source)
    assert first == second
    assert code_sha256(first) == code_sha256(second) and len(code_sha256(first)) == 44


def test_render_configs_substitutes_the_placeholders():
    configs = render_configs(EXAMPLES, account="111122223333", region="eu-central-1")
    assert set(configs) == {p.stem for p in (EXAMPLES / "essentials" / ".config").glob("*.json")}
    scavenger = configs["sosw_scavenger_config"]
    assert scavenger["dead_sns_topic"] == "arn:aws:sns:eu-central-1:111122223333:SoswWorkerErrors"
    assert configs["sosw_scheduler_config"]["queue_bucket"] == "sosw-s3-111122223333"
    essential = configs[constants.ESSENTIAL_CONFIG_NAME]
    assert essential["task_config"]["dynamo_db_config"]["table_name"] == constants.TASKS_TABLE
    assert essential["task_config"]["labourers"] == {}
    assert "000000000000" not in json.dumps(configs)


def test_render_configs_registers_the_worker_and_keeps_other_labourers():
    other = {"other_worker": {"arn": "arn:aws:lambda:eu-central-1:111122223333:function:other_worker"}}
    configs = render_configs(EXAMPLES, "111122223333", "eu-central-1", worker=WORKER, registered_labourers=other)
    labourers = configs[constants.ESSENTIAL_CONFIG_NAME]["task_config"]["labourers"]
    assert labourers == {
        **other,
        WORKER: {
            "arn": f"arn:aws:lambda:eu-central-1:111122223333:function:{WORKER}",
            "max_simultaneous_invocations": 3,
        },
    }
    assert configs[f"{WORKER}_config"]["dynamo_db_config"]["table_name"] == WORKER
    assert configs[f"{WORKER}_config"]["bearer_token"] == ""

    again = render_configs(EXAMPLES, "111122223333", "eu-central-1", worker=WORKER, registered_labourers=labourers)
    assert again == configs


def test_first_failure_is_the_cause_within_the_last_operation():
    events = [  # newest first, as CloudFormation lists them
        {"LogicalResourceId": "sosw-scheduler", "ResourceStatus": "ROLLBACK_COMPLETE"},
        {"LogicalResourceId": "SchedulerRole", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Resource creation cancelled"},
        {"LogicalResourceId": "SchedulerFunction", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "No export named sosw-s3-bucket-name found"},
        {"LogicalResourceId": "sosw-scheduler", "ResourceStatus": "CREATE_IN_PROGRESS"},
        {"LogicalResourceId": "Old", "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "an older failure"},
    ]
    assert first_failure(events, "sosw-scheduler") == "SchedulerFunction: No export named sosw-s3-bucket-name found"
    assert first_failure(events[:1], "sosw-scheduler") == ""


def test_build_package_with_pip_installs_the_requirements_but_never_the_index_sosw(monkeypatch, tmp_path):
    commands = []

    def fake_run(cmd, check):
        commands.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "requests").mkdir()
        (target / "requests" / "__init__.py").write_text("# from PyPI\n")
        (target / "app.py").write_text("# shadowed by the function's own app.py\n")

    monkeypatch.setattr("sosw.deploy.package.subprocess.run", fake_run)
    source = tmp_path / "my_worker"
    shutil.copytree(EXAMPLES / "essentials" / "sosw_scavenger", source)
    (source / "requirements.txt").write_text("sosw>=0.7  # the original, on the package index\nrequests\n")
    archive = zipfile.ZipFile(io.BytesIO(build_package(source, exclude={"sosw-scavenger.yaml"}, pip=True)))

    (cmd,) = commands
    assert cmd[1:4] == ["-m", "pip", "install"] and cmd[-1:] == ["requests"]  # no sosw line reaches pip
    names = archive.namelist()
    assert "requests/__init__.py" in names and "sosw/scheduler.py" in names  # this sosw, copied
    assert archive.read("sosw/__init__.py") == (ROOT / "sosw" / "__init__.py").read_bytes()
    assert archive.read("app.py") == (source / "app.py").read_bytes()


def test_build_package_with_pip_runs_no_pip_without_requirements(monkeypatch):
    monkeypatch.setattr("sosw.deploy.package.subprocess.run", lambda cmd, check: pytest.fail(f"pip ran: {cmd}"))
    names = zipfile.ZipFile(io.BytesIO(build_package(EXAMPLES / "essentials" / "sosw_orchestrator", pip=True)))
    assert "sosw/orchestrator.py" in names.namelist()


def test_the_scheduler_package_brings_a_botocore_that_knows_if_none_match():
    archive = zipfile.ZipFile(io.BytesIO(build_package(EXAMPLES / "essentials" / "sosw_scheduler")))
    names = set(archive.namelist())
    assert {"boto3/__init__.py", "botocore/__init__.py", "s3transfer/__init__.py"} <= names
    metadata = next(n for n in names if n.startswith("botocore-") and n.endswith(".dist-info/METADATA"))
    version = tuple(int(p) for p in metadata.split("-")[1].split(".dist-info")[0].split(".")[:3])
    assert version >= (1, 35, 2)
    model = next(n for n in names if re.fullmatch(r"botocore/data/s3/[\d-]+/service-2\.json(\.gz)?", n))
    text = gzip.decompress(archive.read(model)) if model.endswith(".gz") else archive.read(model)
    assert b"IfNoneMatch" in text


def test_a_requirement_not_met_here_names_itself(tmp_path):
    (tmp_path / "app.py").write_text("")
    (tmp_path / "requirements.txt").write_text("boto3>=999.0\n")
    with pytest.raises(DeployError, match=r"boto3>=999.0 but .* is installed"):
        build_package(tmp_path)
    (tmp_path / "requirements.txt").write_text("no-such-distribution-here\n")
    with pytest.raises(DeployError, match="no-such-distribution-here is not installed"):
        build_package(tmp_path)


def test_packages_leave_out_tests_and_the_build_time_parts(tmp_path):
    project = init_worker("my_worker", parent=tmp_path)
    names = zipfile.ZipFile(io.BytesIO(build_package(project, exclude={"my-worker.yaml"}))).namelist()
    assert "app.py" in names
    assert not [n for n in names if n.startswith(("tests/", "config/", "sosw/_examples/", "sosw/_templates/"))]
    assert not {"conftest.py", "sosw/scaffold.py", "sosw/cli.py", "sosw/__main__.py"} & set(names)


def test_discover_stacks_takes_worker_folders_from_outside_the_examples(tmp_path):
    project = init_worker("my_worker", parent=tmp_path)
    stacks = discover_stacks(EXAMPLES, workers=["my_worker"], worker_dirs=[project])
    assert [(s.name, s.source) for s in stacks if s.tier == "workers"] == [("my-worker", project)]
    assert "my_worker" in {s.function for s in discover_stacks(EXAMPLES, workers=None, worker_dirs=[project])}
    configs = render_configs(EXAMPLES, "111122223333", "eu-central-1", worker="my_worker", worker_dir=project)
    assert configs["my_worker_config"] == {"multiplier": 1}
    labourer = configs[constants.ESSENTIAL_CONFIG_NAME]["task_config"]["labourers"]["my_worker"]
    assert labourer["arn"] == "arn:aws:lambda:eu-central-1:111122223333:function:my_worker"


def test_the_default_examples_are_the_ones_the_packaging_maps_in():
    assert default_examples_dir() == EXAMPLES


def test_an_action_without_a_handler_is_a_deploy_error_naming_it():
    @dataclass(frozen=True)
    class RotateKeys(Action):
        key: str

    executor = Executor(log=lambda line: pytest.fail(f"reported {line}"), clients={"cloudformation": object()})
    with pytest.raises(DeployError, match="no handler for the action RotateKeys"):
        executor.execute([RotateKeys("k1")])
    assert executor.statuses == {}


def test_sosw_deployer_reexports_the_public_names_of_sosw_deploy():
    for name in deploy_package.__all__:
        assert getattr(deployer, name) is getattr(deploy_package, name)
    assert deployer.PACKAGES_PREFIX == "sosw/packages/" and deployer.TIERS[0] == "bucket"
