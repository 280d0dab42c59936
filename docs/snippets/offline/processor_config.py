"""How a Processor (and an Essential) assembles its config: each layer a recursive update of the one before."""

import os
from unittest import mock

import sosw.app
from sosw.app import Processor
from sosw.orchestrator import Orchestrator

# What the config table would hold, by config name.
ROWS = {
    "sosw_essential_config": {"task_config": {"labourers": {"my_worker": {"max_simultaneous_invocations": 5}}}},
    "sosw_orchestrator_config": {"max_simultaneous_invocations": 20},
    "my_function_config": {"table": "from_row", "limits": {"rows": 100}},
}


def fake_get_config(name, test=False):
    """Stands for ``sosw.app.get_config``: in your own tests, patch that name the same way."""
    return ROWS.get(name, {})


class MyProcessor(Processor):
    DEFAULT_CONFIG = {"table": "default", "limits": {"rows": 10, "seconds": 60}, "tags": ["a"]}


# A Processor: DEFAULT_CONFIG <- the row <AWS_LAMBDA_FUNCTION_NAME>_config <- custom_config.
with mock.patch.object(sosw.app, "get_config", fake_get_config), \
        mock.patch.dict(os.environ, {"AWS_LAMBDA_FUNCTION_NAME": "my_function"}):
    processor = MyProcessor(custom_config={"limits": {"seconds": 5}, "tags": ["b"]})

assert processor.config == {
    "table": "from_row",  # the row beats DEFAULT_CONFIG
    "limits": {"rows": 100, "seconds": 5},  # nested dicts merge key by key; custom_config wins last
    "tags": ["a", "b"],  # lists merge, keeping unique values
}

# An Essential starts one step earlier: DEFAULT_CONFIG <- sosw_essential_config <- <function>_config <- custom_config.
with mock.patch.object(sosw.app, "get_config", fake_get_config), \
        mock.patch.dict(os.environ, {"AWS_LAMBDA_FUNCTION_NAME": "sosw_orchestrator"}):
    orchestrator = Orchestrator()

assert orchestrator.config["max_simultaneous_invocations"] == 20  # the function row beats DEFAULT_CONFIG's 10
assert orchestrator.config["task_config"]["labourers"] == {"my_worker": {"max_simultaneous_invocations": 5}}
# The shared row reached the TaskManager the Orchestrator created from its 'Task' component:
assert [labourer.id for labourer in orchestrator.task_client.get_labourers()] == ["my_worker"]
print(orchestrator.config["invocation_number_coefficient"])  # DEFAULT_CONFIG: {0: 0, 1: 0, 2: 0.5, 3: 0.75, 4: 1}
