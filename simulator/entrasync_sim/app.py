"""The Starlette application: control, Graph and identity routes over one Simulator."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from entrasync_sim import control, graph, identity
from entrasync_sim.faults import FaultMiddleware
from entrasync_sim.runtime import Simulator


def build_app(simulator: Simulator) -> Starlette:
    """An ASGI app serving `simulator`; Graph (the hot path) and control routes come before
    the identity routes' `/{tenant}/...`."""
    app = Starlette(
        routes=[*graph.ROUTES, *control.ROUTES, *identity.ROUTES],
        middleware=[Middleware(FaultMiddleware, simulator=simulator)],
    )
    app.state.simulator = simulator
    return app
