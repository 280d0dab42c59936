"""How many tasks the Orchestrator invokes: health from metric "feelings", then coefficients and running tasks."""

from unittest import mock

import sosw.app
from sosw.labourer import Labourer
from sosw.managers.ecology import ECO_STATUSES, EcologyManager
from sosw.orchestrator import Orchestrator

assert dict(ECO_STATUSES) == {0: "Bad", 1: "Poor", 2: "Moderate", 3: "Good", 4: "High"}

# A metric's feelings: {status: threshold}. The highest status whose threshold the value satisfies wins, else 0.
db_cpu = {
    "details": {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Statistics": ["Average"],
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "my-db"}]},
    "feelings": {"3": 50, "4": 25},  # keys as a JSON config gives them: strings work as well as ints
    "feeling_comparison_operator": "<=",
}
ecology = EcologyManager()
assert ecology.get_health(10, db_cpu) == 4  # 10 <= 25: High
assert ecology.get_health(40, db_cpu) == 3  # 40 <= 50: Good
assert ecology.get_health(90, db_cpu) == 0  # satisfies no threshold: Bad

with mock.patch.object(sosw.app, "get_config", return_value={}):
    orchestrator = Orchestrator(custom_config={"invocation_number_coefficient": {"2": 0.5, "3": 0.75, "4": 1}})

labourer = Labourer(id="my_worker", max_simultaneous_invocations=20)


def invocations(health, running):
    """Invocations this run: max(floor(max_simultaneous_invocations x coefficient[health]) - running, 0)."""
    labourer.set_custom_attribute("health", health)
    ecology = orchestrator.task_client.ecology_client
    with mock.patch.object(ecology, "count_running_tasks_for_labourer", return_value=running):
        return orchestrator.get_desired_invocation_number_for_labourer(labourer)


assert invocations(health=4, running=0) == 20  # High: the full 20
assert invocations(health=4, running=15) == 5  # 15 still run from earlier runs
assert invocations(health=3, running=0) == 15  # Good: floor(20 x 0.75)
assert invocations(health=2, running=12) == 0  # Moderate allows 10, and 12 are running
assert invocations(health=1, running=0) == 0  # Poor and Bad: coefficient 0, nothing is invoked
print({health: invocations(health, running=0) for health in range(5)})  # {0: 0, 1: 0, 2: 10, 3: 15, 4: 20}
