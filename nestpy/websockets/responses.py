"""``WsResponse``: a handler result that is emitted to the caller as an event.

The class is defined in ``nestpy.common.responses`` (below this layer) so the pipeline
compiler can recognise it; this is its public home.
"""

from nestpy.common.responses import WsResponse as WsResponse

__all__ = ["WsResponse"]
