import dagster as dg

from pipelines.io_manager import CredcatIOManager
from pipelines.resources import CredcatSettings, DemoCatalog


@dg.definitions
def resources() -> dg.Definitions:
    # Nothing read from the environment here: each resource resolves $CREDCAT_DATA_DIR
    # when a run starts.
    return dg.Definitions(
        resources={
            "settings": CredcatSettings(),
            "demo": DemoCatalog(),
            "io_manager": CredcatIOManager(),
        }
    )
