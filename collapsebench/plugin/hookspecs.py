"""The hooks a collapsebench plugin can implement.

Each hook receives a ``register`` callable; the plugin calls it once per object it contributes and
the core owns collection, de-duplication and validation (see ``collapsebench.plugin.registry``).
"""

import pluggy

hookspec = pluggy.HookspecMarker("collapsebench")


@hookspec
def register_tracks(register):
    """Register Track subclasses: ``register(MyTrack)``."""


@hookspec
def register_models(register):
    """Register ModelFamily subclasses: ``register(MyModelFamily)``."""


@hookspec
def register_data_sources(register):
    """Register DataSource subclasses: ``register(MyDataSource)``."""


@hookspec
def register_mitigations(register):
    """Register Mitigation subclasses: ``register(MyMitigation)``."""


@hookspec
def register_metrics(register):
    """Register Metric subclasses: ``register(MyMetric)``."""


@hookspec
def register_commands(cli):
    """Add click commands to the ``collapsebench`` command group: ``@cli.command()``."""
