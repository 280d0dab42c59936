"""The sosw Scavenger Lambda: the class as is, configured by the config rows ``sosw_essential_config`` and
``sosw_scavenger_config``."""

from sosw.app import LambdaGlobals, get_lambda_handler
from sosw.scavenger import Scavenger

global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Scavenger, global_vars)
