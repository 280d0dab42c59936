"""The sosw Orchestrator Lambda: the class as is, configured by the config rows ``sosw_essential_config`` and
``sosw_orchestrator_config``."""

from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.orchestrator import Orchestrator

global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Orchestrator, global_vars)
