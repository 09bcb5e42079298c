"""The run file ``run.h5``: one writer, one reader. Schema: ``docs/run-file.md``."""
from pinn_cli.runfile.io import (SCHEMA_VERSION, Run, RunFileError, RunWriter, SeriesSpec, read_attrs,
                                 read_run)

__all__ = ["SCHEMA_VERSION", "Run", "RunFileError", "RunWriter", "SeriesSpec", "read_attrs", "read_run"]
