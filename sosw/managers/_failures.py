"""
Failing loudly: an Essential that works Labourer by Labourer (the Orchestrator, the Scavenger) goes on with the
other Labourers when the work of one fails, then raises :class:`LabourersFailed`, so that Lambda's ``Errors`` metric
and ``sosw tick`` show the run as failed. The error names each Labourer and what AWS answered.

.. code-block:: python

    failures = {}
    for labourer in labourers:
        try:
            work(labourer)
        except Exception as err:
            failures[labourer.id] = err
    if failures:
        raise LabourersFailed('Orchestrator', failures)
    # LabourersFailed: Orchestrator: the work of 1 Labourer failed: w1: AccessDeniedException on Query (User: ...
    # is not authorized to perform: dynamodb:Query on resource: ...)
"""

from sosw.exceptions import LabourersFailed, describe_error

__all__ = ["LabourersFailed", "describe_error"]
