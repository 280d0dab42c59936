"""
The greenfield number line, drawn by ``docs/_ext/diagrams.py`` at build time. Every number comes from
``sosw.constants``, so the picture follows the code: change a default there and the next docs build shows it.

The example run starts on 2026-11-23 00:00:00 UTC with a Labourer of default duration and cooldown.
"""

import datetime

from sosw import constants

#: The example run: ``start`` of the Labourers, as ``TaskManager.register_labourers`` stamps it.
START = int(datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc).timestamp())


def numbers(start: int = START) -> dict:
    """The values the diagram shows, for a Labourer with the default duration and cooldown."""
    delta = constants.GREENFIELD_INVOCATION_DELTA
    window = constants.DEFAULT_DURATION + constants.DEFAULT_COOLDOWN
    invoked = start + delta
    return {
        "first": constants.FIRST_GREENFIELD + constants.GREENFIELD_TASK_STEP,
        "second": constants.FIRST_GREENFIELD + 2 * constants.GREENFIELD_TASK_STEP,
        "retried": constants.FIRST_GREENFIELD,
        "start": start,
        "expired": invoked - window,
        "failed": start + delta - window - 1,
        "invoked": invoked,
        "delta": delta,
        "window": window,
    }


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def diagram() -> dict:
    n = numbers()
    axis_y, band_y, band_h = 150, 130, 40
    queued_end, start_x, expired_x, invoked_x, end_x = 300, 380, 700, 880, 960
    return {
        "title": "The greenfield number line of one run of an Essential, with the numbers of sosw.constants",
        "width": 1000,
        "height": 300,
        "bands": [
            {"x0": 30, "x1": queued_end, "y": band_y, "h": band_h, "label": "queued", "style": "queued"},
            {"x0": start_x, "x1": expired_x, "y": band_y, "h": band_h, "label": "expired (unless completed)",
             "style": "warn"},
            {"x0": expired_x, "x1": invoked_x, "y": band_y, "h": band_h, "label": "running", "style": "state"},
            {"x0": invoked_x, "x1": end_x, "y": band_y, "h": band_h, "label": "", "style": "plain"},
        ],
        "ticks": [
            {"x": 60, "y0": 115, "y1": 185, "label": _n(n["retried"]), "sublabel": "retried:\nthe head"},
            {"x": 130, "y0": 115, "y1": 185, "label": _n(n["first"]), "sublabel": "first task"},
            {"x": 200, "y0": 115, "y1": 185, "label": _n(n["second"]), "sublabel": "next: + 1 000"},
            {"x": start_x, "y0": 115, "y1": 185, "label": f"start S\n{_n(n['start'])}", "sublabel": "now"},
            {"x": 655, "y0": 130, "y1": 170, "dashed": True},
            {"x": expired_x, "y0": 115, "y1": 185, "label": f"expired E\n{_n(n['expired'])}",
             "sublabel": f"I - (duration + cooldown)\n= I - {_n(n['window'])}"},
            {"x": invoked_x, "y0": 115, "y1": 185, "label": f"invoked I\n{_n(n['invoked'])}",
             "sublabel": f"S + delta\n= S + {_n(n['delta'])}"},
        ],
        "texts": [
            {"x": (queued_end + start_x) / 2, "y": axis_y, "text": "//", "size": 18, "weight": "bold"},
            {"x": 30, "y": 25, "anchor": "start", "weight": "bold", "size": 13,
             "text": "A task's state is where its greenfield falls among the numbers of the current run:"},
            {"x": 30, "y": 50, "anchor": "start", "size": 12,
             "text": "a task invoked now gets greenfield I; one invoked a minute ago has I - 60, still above E, so "
                     "it counts as running;"},
            {"x": 30, "y": 70, "anchor": "start", "size": 12,
             "text": "one invoked more than duration + cooldown ago has slipped below E: expired. A completed task "
                     "has completed_at, wherever its greenfield is."},
            {"x": 520, "y": 235, "size": 11.5,
             "text": f"dashed: a task marked failed gets {_n(n['failed'])} = S + delta - window - 1,\n"
                     "below E of any Labourer (window = the longest duration + cooldown): expired at once"},
            {"x": 30, "y": 285, "anchor": "start", "size": 11.5,
             "text": f"delta = greenfield_invocation_delta = {_n(n['delta'])} s (one year); duration "
                     f"{constants.DEFAULT_DURATION} s + cooldown {constants.DEFAULT_COOLDOWN} s by default; "
                     f"queue step greenfield_task_step = {_n(constants.GREENFIELD_TASK_STEP)}. Not to scale."},
        ],
    }
