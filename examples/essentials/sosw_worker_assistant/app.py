"""The sosw WorkerAssistant Lambda: the class as is, configured by the config rows ``sosw_essential_config`` and
``sosw_worker_assistant_config``."""

from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.worker_assistant import WorkerAssistant

global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(WorkerAssistant, global_vars)
