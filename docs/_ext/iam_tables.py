"""
Sphinx directive ``iam-permissions``: the IAM policy of a function, read from its CloudFormation template at build
time, as a table (statement, actions, resources, why). The docs can then never disagree with the templates::

    .. iam-permissions:: ../examples/essentials/sosw_orchestrator/sosw-orchestrator.yaml

"Why" is the comment written above the statement in the template, else a short default for the usual statements.
"""

import re
from pathlib import Path
from typing import Any, Dict, List

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

#: What the exports of the sosw stacks are, in words.
EXPORTS = {
    "sosw-ddb-tasks-arn": "table sosw_tasks",
    "sosw-ddb-closed-tasks-arn": "table sosw_closed_tasks",
    "sosw-ddb-retry-tasks-arn": "table sosw_retry_tasks",
    "sosw-ddb-tasks-meta-arn": "table sosw_tasks_meta",
    "sosw-ddb-config-arn": "table config",
    "sosw-s3-bucket-arn": "bucket sosw-s3-<account>",
    "sosw-s3-bucket-name": "bucket sosw-s3-<account>",
    "sosw-sns-worker-errors-topic-arn": "topic SoswWorkerErrors",
    "sosw-worker-assistant-arn": "function sosw_worker_assistant",
    "sosw-orchestrator-arn": "function sosw_orchestrator",
    "sosw-scavenger-arn": "function sosw_scavenger",
    "sosw-scheduler-arn": "function sosw_scheduler",
}

#: Why, for statements the template does not comment.
DEFAULT_WHY = {
    "Logs": "Write its own logs.",
    "ReadConfig": "Read its config rows from the config table.",
    "SiblingRules": "SiblingsManager's check that an enabled rule targets the function before it spawns a sibling.",
    "TaskEvents": "Write the task event log, when meta_handler_config turns it on.",
    "DeadTaskAlerts": "Announce dead tasks.",
    "QueueFiles": "Keep the queue file of a large job.",
    "Results": "Store its results.",
}

_SUB_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:([a-z0-9-]+):(?:\$\{AWS::Region\})?:(?:\$\{AWS::AccountId\})?:(.*)$")


class _Tag:
    """A CloudFormation intrinsic function (``!ImportValue x``), kept as data."""

    def __init__(self, name: str, value: Any):
        self.name, self.value = name, value


def _loader() -> type:
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tag:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return _Tag(suffix, value)

    Loader.add_multi_constructor("!", construct)
    return Loader


def describe_resource(resource: Any) -> str:
    """A resource of a policy statement, in words: ``table sosw_tasks``, ``function:*``, ..."""
    if isinstance(resource, _Tag):
        if resource.name == "ImportValue" and isinstance(resource.value, str):
            return EXPORTS.get(resource.value, f"import {resource.value}")
        if resource.name == "GetAtt":
            return f"its own {str(resource.value).split('.')[0]}"
        if resource.name == "Sub":
            template, variables = (resource.value, {}) if isinstance(resource.value, str) else resource.value
            text = template
            for name, value in variables.items():
                text = text.replace(f"${{{name}}}", describe_resource(value))
            match = _SUB_ARN.match(text)
            if match:
                rest = match.group(2)
                cut = min((rest.find(sep) for sep in ":/" if sep in rest), default=len(rest))
                kind, name = rest[:cut], rest[cut + 1:]
                text = f"{kind.replace('-', ' ')} {name.removesuffix(':*')}"
            return text.replace("/index/*", " indexes")
    return str(resource)


def policy_rows(template_text: str) -> List[Dict[str, str]]:
    """One row per statement of every IAM role policy in the template: sid, actions, resources, why."""
    template = yaml.load(template_text, Loader=_loader())
    comments: Dict[str, str] = {}
    pending: List[str] = []
    for line in template_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
        elif stripped.startswith("- Sid:"):
            comments[stripped.split(":", 1)[1].strip()] = " ".join(pending)
            pending = []
        elif stripped:
            pending = []
    rows = []
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for policy in resource.get("Properties", {}).get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                sid = statement.get("Sid", "")
                rows.append({
                    "sid": sid,
                    "actions": ", ".join(actions),
                    "resources": "; ".join(describe_resource(r) for r in resources),
                    "why": comments.get(sid) or DEFAULT_WHY.get(sid, ""),
                })
    return rows


class IamPermissionsDirective(SphinxDirective):
    """``.. iam-permissions:: PATH`` (relative to the page) renders the policy of the template as a table."""

    required_arguments = 1
    has_content = False

    def run(self) -> List[nodes.Node]:
        relative, absolute = self.env.relfn2path(self.arguments[0], self.env.docname)
        path = Path(absolute)
        if not path.is_file():
            raise self.error(f"no template {self.arguments[0]} ({path})")
        self.env.note_dependency(relative)
        rows = policy_rows(path.read_text(encoding="utf-8"))
        if not rows:
            raise self.error(f"{path.name} has no IAM role policy")
        headers = ("Statement", "Actions", "Resources", "Why")
        table = nodes.table(classes=["iam-permissions"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in (12, 30, 30, 28):
            group += nodes.colspec(colwidth=width)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        head += self._row(headers)
        for row in rows:
            body += self._row((row["sid"], row["actions"], row["resources"], row["why"]), literal=(1,))
        return [table]

    @staticmethod
    def _row(cells: Any, literal: tuple = ()) -> nodes.row:
        row = nodes.row()
        for index, text in enumerate(cells):
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph += nodes.literal(text=text) if index in literal else nodes.Text(text)
            entry += paragraph
            row += entry
        return row


def setup(app: Sphinx) -> Dict[str, Any]:
    app.add_directive("iam-permissions", IamPermissionsDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
