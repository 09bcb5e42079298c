"""The run file ``run.h5``: one writer, one reader. Schema: ``docs/run-file.md``."""
from pinn_cli.runfile.io import (SCHEMA_VERSION, Run, RunFileError, RunWriteError, RunWriter, SeriesSpec,
                                 count_records, read_attrs, read_run)

__all__ = ["SCHEMA_VERSION", "Run", "RunFileError", "RunWriteError", "RunWriter", "SeriesSpec",
           "count_records", "read_attrs", "read_run"]
