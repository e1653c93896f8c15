"""``WsException``: the error a gateway raises to tell the caller what went wrong.

The class is defined in ``nestpy.common.exceptions`` (below this layer) so the pipeline can
raise it; this is its public home.
"""

from nestpy.common.exceptions import WsException as WsException

__all__ = ["WsException"]
