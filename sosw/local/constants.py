"""The local Lambda service's numbers and names, in one place (re-exported by :mod:`sosw.local.lambda_service`)."""

#: The account moto serves by default; ARNs in answers use it.
ACCOUNT_ID = "123456789012"
#: Attempts Lambda makes for an Event invocation that fails: the first and two retries. A function's
#: EventInvokeConfig (``MaximumRetryAttempts`` 0 to 2) lowers it.
ASYNC_ATTEMPTS = 3
#: Bounds of ``MaximumEventAgeInSeconds`` in an EventInvokeConfig, as Lambda sets them; the upper one is the default.
MIN_EVENT_AGE = 60
MAX_EVENT_AGE = 21600
#: Warm processes per function (and Event invocations running at once) when it has no reserved concurrency.
DEFAULT_MAX_CONTAINERS = 10
#: Seconds a new process may take to import its handler, like the limit of Lambda's init phase.
INIT_TIMEOUT = 10.0
#: Seconds ``stop()`` waits for background invocations to finish after their processes were killed.
STOP_GRACE = 2.0
#: Counters kept per function in :attr:`sosw.local.lambda_service.LocalLambdaService.stats`.
COUNTERS = ("invoked", "succeeded", "failed", "retried", "throttled", "timed_out", "given_up")
#: Values of the ``X-Amz-Invocation-Type`` header that Invoke accepts.
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
