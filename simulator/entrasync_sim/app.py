"""The Starlette application: control, Graph and identity routes over one Simulator."""

from __future__ import annotations

from starlette.applications import Starlette

from entrasync_sim import control, graph, identity
from entrasync_sim.runtime import Simulator


def build_app(simulator: Simulator) -> Starlette:
    """An ASGI app serving `simulator`; control and Graph routes win over `/{tenant}/...`."""
    app = Starlette(routes=[*control.ROUTES, *graph.ROUTES, *identity.ROUTES])
    app.state.simulator = simulator
    return app
