"""``pinn-predict RUN POINTS -o VALUES.csv``: a trained network evaluated at your own points.

POINTS is a CSV or plain-text file of coordinates (comment lines skipped) whose header names the
problem's axes (``x,y``; other columns are ignored), or without a header exactly one column per
axis in the problem's order; or an ``.npz``/``.mat``/HDF5 file with one array per axis (or one
(N, d) array). VALUES gets a header and one row per point: the coordinates, each output, and
what ``--derivatives`` and ``--observables`` ask for, each number as the shortest text that reads
back as the same value (the values the API returns, exactly); ``-o VALUES.npz`` writes one array
per column instead. Without ``-o`` the table goes to the standard output. Points that are NaN or
inf, and a header that names an axis twice, are refused; so is an ``-o`` that is one of the run's
own files (its run file, checkpoints or Hydra record), ``--force`` or not.

    pinn-predict outputs/2026-11-28/14-03-11 points.csv -o values.csv --derivatives u_x,u_y

Exit codes: 0 written; 2 bad input (arguments, a run or file that cannot be read, columns that do
not fit, a plugin that cannot be built), one line on stderr.
"""
from __future__ import annotations

import sys
from pathlib import Path

from pinn_cli.cli import argument_parser, version_line


def read_points(path: Path, axes: tuple[str, ...]):
    """The points of ``path`` as (N, d), columns in the order of ``axes``."""
    import numpy as np

    from pinn_cli.reference.tables import read_table
    table = read_table(path)
    names = table.names if table.arrays is None else list(table.arrays)
    twice = [a for a in axes if names and names.count(a) > 1]
    if twice:
        raise ValueError(f"{path.name}: the header names {twice[0]!r} {names.count(twice[0])} times")
    points = None
    if names and all(a in names for a in axes):
        cols = [np.asarray(table.column(a), dtype=float).reshape(-1) for a in axes]
        if len({len(c) for c in cols}) != 1:
            raise ValueError(f"{path.name}: the columns {', '.join(axes)} differ in length")
        points = np.column_stack(cols)
    elif table.arrays is None and table.names is None:
        if table.rows.shape[1] != len(axes):
            raise ValueError(f"{path.name}: {table.rows.shape[1]} columns without a header; expected "
                             f"{len(axes)} ({', '.join(axes)}), or a header naming them")
        points = table.rows
    elif table.arrays is not None:
        two = [np.asarray(v) for v in table.arrays.values()
               if np.ndim(v) == 2 and np.shape(v)[1] == len(axes)]
        if len(two) == 1:
            points = two[0].astype(float)
    if points is None:
        raise ValueError(f"{path.name}: no columns named {', '.join(axes)} ({table.describe()})")
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if len(bad):
        raise ValueError(f"{path.name}: {len(bad)} point(s) hold NaN or inf (the first is point "
                         f"{int(bad[0]) + 1} of {len(points)})")
    return points


WRITES = (".csv", ".txt", ".dat", ".npz", "")     # the -o suffixes pinn-predict writes


def refused_output(output: Path, run: Path) -> str | None:
    """Why ``output`` may not be written (even with --force), or None: a suffix pinn-predict does
    not write, or a file of the run being read."""
    from pinn_cli.run_folder import RunFolder
    folder = RunFolder.of_checkpoint(run) if run.suffix == ".pt" else RunFolder(run)
    own = {folder.run_file, folder.previous_run_file, folder.stopped_run_file, folder.last,
           folder.best, folder.error_file, folder.traceback_file, folder.lock}
    target = output.resolve()
    if target in {p.resolve() for p in own} or folder.hydra.resolve() in target.parents:
        return f"-o {output} is not allowed: it is a file of the run {folder.path} being read"
    if output.suffix.lower() not in WRITES:
        return (f"-o {output} is not allowed: expected a .csv, .txt or .dat file (CSV text) or "
                ".npz (one array per column)")
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argument_parser("pinn-predict", __doc__.splitlines()[0])
    ap.add_argument("--version", action="version", version=version_line("pinn-predict"))
    ap.add_argument("run", type=Path, help="a run folder (or one of its checkpoints/*.pt)")
    ap.add_argument("points", type=Path, help="CSV/text (header naming the axes), .npz, .mat, .h5")
    ap.add_argument("-o", "--output", type=Path, help="the CSV to write (default: standard output); "
                    "an existing file is kept unless --force")
    ap.add_argument("--force", action="store_true", help="replace an existing --output file")
    ap.add_argument("--checkpoint", choices=("last", "best"), default="last",
                    help="last: the network at the end of the run (default); best: the lowest error")
    ap.add_argument("--derivatives", default="", metavar="NAMES",
                    help="comma-separated derivatives to add, e.g. u_x,u_xx")
    ap.add_argument("--observables", action="store_true", help="add the PDE's observables")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=("float32", "float64"), default=None,
                    help="default: the run's")
    args = ap.parse_args(argv)
    why = None if args.output is None else refused_output(args.output, args.run)
    if why:
        print(f"pinn-predict: error: {why}; nothing was written", file=sys.stderr)
        return 2
    if args.output is not None and args.output.exists() and not args.force:
        print(f"pinn-predict: error: {args.output} exists; nothing was written (another -o, or "
              "--force to replace it)", file=sys.stderr)
        return 2
    import numpy as np

    import pinn_cli
    from pinn_cli.errors import PinnError
    try:
        net = pinn_cli.load(args.run, args.checkpoint, args.device, args.dtype)
        x = read_points(args.points, net.axes)
        names = [n for n in args.derivatives.split(",") if n.strip()]
        values = net(x)
        cols = {a: x[:, i] for i, a in enumerate(net.axes)}
        out = values[:, None] if values.ndim == 1 else values
        cols.update({o: out[:, j] for j, o in enumerate(net.outputs)})
        if names:
            d = net.derivatives(x, [n.strip() for n in names])
            cols.update({n.strip(): d[n.strip()] for n in names})
        if args.observables:
            cols.update({k: v for k, v in net.observables(x).items() if k not in cols})
    except (PinnError, OSError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"pinn-predict: error: {msg}", file=sys.stderr)
        return 2
    table = np.column_stack([np.asarray(v, dtype=float) for v in cols.values()])   # (N, C)
    try:
        if args.output is not None and args.output.suffix.lower() == ".npz":
            with open(args.output, "wb" if args.force else "xb") as f:
                np.savez(f, **{k: table[:, j] for j, k in enumerate(cols)})
        else:
            # the shortest text that reads back as the same double (float32 values: exactly)
            text = ",".join(cols) + "\n" + "".join(",".join(map(repr, row)) + "\n"
                                                   for row in table.tolist())
            if args.output is None:
                sys.stdout.write(text)
            else:
                with open(args.output, "w" if args.force else "x") as f:
                    f.write(text)
    except FileExistsError:
        print(f"pinn-predict: error: {args.output} appeared meanwhile; nothing was written",
              file=sys.stderr)
        return 2
    except OSError as e:
        print(f"pinn-predict: error: {args.output}: cannot write ({e.strerror or e})", file=sys.stderr)
        return 2
    if args.output is not None:
        print(f"{len(table)} points, columns {','.join(cols)}: {args.output}", file=sys.stderr)
    return 0


def cli() -> None:
    sys.exit(main())
