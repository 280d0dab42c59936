"""The pure parts of sosw.deployer: discovery, plans, packages and config rendering. No AWS."""

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from sosw import constants
from sosw.deployer import (
    BUCKET_STACK,
    BuildPackage,
    DeleteStacks,
    DeployError,
    DeployStacks,
    EmptyBucket,
    SyncFunctionCode,
    UploadPackage,
    build_package,
    code_sha256,
    discover_stacks,
    first_failure,
    plan_cleanup,
    plan_deploy,
    render_configs,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
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
        [BUCKET_STACK], INITIAL, ESSENTIALS, ["sosw-dev-scheduled-rules"], [WORKER.replace("_", "-")]
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
        DeleteStacks(("sosw-dev-scheduled-rules",)),
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
    assert not [n for n in names if n.startswith(("sosw/local/", "config/")) or "__pycache__" in n]
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


def test_build_package_with_pip_holds_what_pip_installed(monkeypatch):
    commands = []

    def fake_run(cmd, check):
        commands.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "sosw").mkdir()
        (target / "sosw" / "__init__.py").write_text("# from PyPI\n")
        (target / "app.py").write_text("# shadowed by the function's own app.py\n")

    monkeypatch.setattr("sosw.deployer.subprocess.run", fake_run)
    source = EXAMPLES / "essentials" / "sosw_scavenger"
    archive = zipfile.ZipFile(io.BytesIO(build_package(source, exclude={"sosw-scavenger.yaml"}, pip=True)))

    (cmd,) = commands
    assert cmd[1:4] == ["-m", "pip", "install"] and cmd[cmd.index("-r") + 1] == str(source / "requirements.txt")
    assert sorted(archive.namelist()) == ["app.py", "requirements.txt", "sosw/__init__.py"]
    assert archive.read("sosw/__init__.py") == b"# from PyPI\n"
    assert archive.read("app.py") == (source / "app.py").read_bytes()
