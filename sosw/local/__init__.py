"""
The embedded local runtime: a moto server for the AWS services sosw uses, a local Lambda Invoke endpoint that runs
real handlers, and timers that tick the Orchestrator and the Scavenger. For development, demos and tests only;
production is real AWS. Install with ``pip install 'sosw[local]'``.
"""
