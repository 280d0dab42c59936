"""The sosw Scheduler Lambda: the class as is, configured by the config rows ``sosw_essential_config`` and
``sosw_scheduler_config``."""

from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.scheduler import Scheduler

global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Scheduler, global_vars)
