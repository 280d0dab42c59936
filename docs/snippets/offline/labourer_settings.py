"""A Labourer: a Worker function as the Essentials see it, from its entry in the ``labourers`` config."""

from sosw.labourer import Labourer

settings = {  # config['task_config']['labourers']['my_worker'], e.g. in sosw_essential_config
    "arn": "arn:aws:lambda:us-west-2:000000000000:function:my_worker",
    "max_simultaneous_invocations": 10,
    "duration": 120,  # seconds a task may run (default: the function's timeout, else 900)
    "cooldown": 60,  # then this long before a task that has not completed counts as expired (default 300)
    "max_attempts": 5,  # invocations before a task is closed as dead (default 3)
}
labourer = Labourer(id="my_worker", **settings)
assert labourer.function_name == settings["arn"]  # what the Orchestrator invokes
assert (labourer.duration, labourer.cooldown) == (120, 60)

# Per-run attributes are set by TaskManager.register_labourers(); reading one before that is an error.
try:
    labourer.get_attr("start")
except AttributeError as err:
    print(err)
labourer.set_custom_attribute("start", 1_795_392_000)
assert labourer.get_attr("start") == 1_795_392_000
