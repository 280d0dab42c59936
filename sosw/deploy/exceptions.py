"""The error every deployment step raises (it names the stack at fault, when there is one), and what botocore's
errors say, read once."""

from typing import Optional

from botocore.exceptions import ClientError

from sosw.exceptions import SoswError


class DeployError(SoswError):
    """A deployment step failed; ``stack`` names the stack (if any) and the message says why.

    :param message: What went wrong.
    :param stack: The stack at fault.

    .. code-block:: python

        try:
            deploy("examples")
        except DeployError as err:
            print(f"{err.stack or 'deployment'} failed: {err}")
    """

    def __init__(self, message: str, stack: Optional[str] = None):
        self.stack = stack
        super().__init__(f"{stack}: {message}" if stack else message)


def error_code(err: ClientError) -> str:
    """The ``Error.Code`` of a botocore error, or ``""``.

    :param err: The error boto3 raised.
    """
    return err.response.get("Error", {}).get("Code", "")


def error_message(err: ClientError) -> str:
    """The ``Error.Message`` of a botocore error, else the error as text.

    :param err: The error boto3 raised.
    """
    return err.response.get("Error", {}).get("Message", str(err))
