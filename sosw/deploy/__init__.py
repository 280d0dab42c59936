"""
Build-time deployment of sosw and its Workers with CloudFormation: what the bash loops of the installation guide do,
against whatever endpoint boto3 is configured for (real AWS, or a local moto server).

Nothing here ships in a Lambda package and no Lambda code imports it. As in Chalice, deployment is first *planned*
as a list of actions (data, testable without AWS) and then *executed*:

- :mod:`~sosw.deploy.stacks`: discovery of the stacks of an examples directory, in deployment order.
- :mod:`~sosw.deploy.plan`: the actions, and the plans of a deployment and of a cleanup.
- :mod:`~sosw.deploy.package`: reproducible Lambda packages of the function folders.
- :mod:`~sosw.deploy.executor`: performs a plan, one handler per action, and reports each stack's status.
- :mod:`~sosw.deploy.commands`: :func:`~sosw.deploy.commands.deploy` and :func:`~sosw.deploy.commands.cleanup`,
  which plan and execute.
- :mod:`~sosw.deploy.configs`: config rows rendered, uploaded, and the functions that read them recycled.
- :mod:`~sosw.deploy.constants`, :mod:`~sosw.deploy.exceptions`, :mod:`~sosw.deploy.types`.

``sosw.deployer`` re-exports all of it, as users and ``examples/*.py`` import it from there.

.. code-block:: python

    from sosw.deploy import cleanup, deploy, upload_configs

    statuses = deploy("examples", workers=["sosw_tutorial_pull_tweeter_hashtags"])
    upload_configs("examples", worker="sosw_tutorial_pull_tweeter_hashtags")
    cleanup("examples")
"""

from sosw.deploy.commands import cleanup, deploy
from sosw.deploy.configs import recycle_functions, render_configs, upload_configs
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

__all__ = [
    "Action",
    "BuildPackage",
    "DeleteStacks",
    "DeleteTables",
    "DeployError",
    "DeployStacks",
    "EmptyBucket",
    "Executor",
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
