"""A deployment is planned as data before anything is sent to AWS: look at the plan, no account needed."""

from pathlib import Path

from sosw.deployer import BuildPackage, DeployStacks, UploadPackage, discover_stacks, plan_deploy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

stacks = discover_stacks(EXAMPLES, workers=["sosw_tutorial_pull_tweeter_hashtags"])
plan = plan_deploy(stacks, existing=())  # a fresh account: nothing exists yet

for action in plan:
    if isinstance(action, DeployStacks):
        print("deploy", ", ".join(stack.name for stack in action.stacks))
    elif isinstance(action, UploadPackage):
        print("upload", action.function)
# deploy sosw-s3-bucket
# deploy sosw-dynamo-db-tables, sosw-sns-topics
# upload sosw_orchestrator ... upload sosw_worker_assistant
# deploy sosw-orchestrator, sosw-scavenger, sosw-scheduler, sosw-worker-assistant
# deploy sosw-dashboard, sosw-dev-scheduled-rules
# upload sosw_tutorial_pull_tweeter_hashtags
# deploy sosw-tutorial-pull-tweeter-hashtags

deployed = [stack.name for action in plan if isinstance(action, DeployStacks) for stack in action.stacks]
assert deployed[0] == "sosw-s3-bucket"  # every other stack imports its exports
assert deployed.index("sosw-dynamo-db-tables") < deployed.index("sosw-orchestrator")
assert deployed.index("sosw-orchestrator") < deployed.index("sosw-dev-scheduled-rules")  # rules target functions
assert deployed[-1] == "sosw-tutorial-pull-tweeter-hashtags"
assert sum(isinstance(action, BuildPackage) for action in plan) == 5  # four Essentials and the Worker
