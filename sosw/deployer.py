"""
The deployer's public names, where users and ``examples/*.py`` import them from. The code lives in
:mod:`sosw.deploy` (stacks, plan, package, executor, commands, configs); this module re-exports it.

.. code-block:: python

    from sosw.deployer import cleanup, deploy, upload_configs

    statuses = deploy("examples", workers=["sosw_tutorial_pull_tweeter_hashtags"])
    upload_configs("examples", worker="sosw_tutorial_pull_tweeter_hashtags")
    cleanup("examples")
"""

from sosw.deploy.commands import cleanup, deploy
from sosw.deploy.configs import recycle_functions, render_configs, upload_configs
from sosw.deploy.constants import (
    ACCOUNT_PLACEHOLDER,
    BUCKET_OUTPUT,
    BUCKET_STACK,
    BUILD_TIME_PARTS,
    CAPABILITIES,
    NOT_PACKAGED,
    PACKAGES_PREFIX,
    RECYCLE_VARIABLE,
    REGION_PLACEHOLDER,
    TIERS,
)
from sosw.deploy.exceptions import DeployError
from sosw.deploy.executor import Executor, first_failure
from sosw.deploy.package import build_package, code_sha256, requirements_of
from sosw.deploy.plan import (
    Action,
    BuildPackage,
    DeleteStacks,
    DeleteTables,
    DeployStacks,
    EmptyBucket,
    SyncFunctionCode,
    UploadPackage,
    plan_cleanup,
    plan_deploy,
)
from sosw.deploy.stacks import Stack, default_examples_dir, discover_stacks
from sosw.deploy.types import Log, PathLike

__all__ = [
    "ACCOUNT_PLACEHOLDER",
    "BUCKET_OUTPUT",
    "BUCKET_STACK",
    "BUILD_TIME_PARTS",
    "CAPABILITIES",
    "NOT_PACKAGED",
    "PACKAGES_PREFIX",
    "RECYCLE_VARIABLE",
    "REGION_PLACEHOLDER",
    "TIERS",
    "Action",
    "BuildPackage",
    "DeleteStacks",
    "DeleteTables",
    "DeployError",
    "DeployStacks",
    "EmptyBucket",
    "Executor",
    "Log",
    "PathLike",
    "Stack",
    "SyncFunctionCode",
    "UploadPackage",
    "build_package",
    "cleanup",
    "code_sha256",
    "default_examples_dir",
    "deploy",
    "discover_stacks",
    "first_failure",
    "plan_cleanup",
    "plan_deploy",
    "recycle_functions",
    "render_configs",
    "requirements_of",
    "upload_configs",
]
