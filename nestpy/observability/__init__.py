"""Observability: Prometheus metrics, OpenTelemetry spans and the Socket.IO Admin UI.

Enabled on the application before it starts (``app.enable_metrics()``,
``app.enable_tracing()``, ``app.enable_admin_ui(auth=...)``); see docs/observability.md.
Each is an extra (``nestpy-io[metrics]``, ``nestpy-io[tracing]``); the admin UI needs
nothing beyond python-socketio.
"""

from nestpy.observability._app import ObservabilityMixin as ObservabilityMixin

__all__ = ["ObservabilityMixin"]
