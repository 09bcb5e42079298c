#!/usr/bin/env bash
# The installed package, not the checkout: build the sdist and the wheel from that sdist, install
# the wheel (non-editable) into a fresh venv, and from an unrelated empty folder run
#   - --version on every command, python -m pinn_cli;
#   - a tiny pinn-train (a few steps) for every option of every config group, read from the
#     installed pinn_cli/conf (one multirun per group);
#   - a -m sweep of two jobs, pinn-analyze on it, pinn-predict, pinn_cli.load;
#   - a user's own PDE plugin (examples/custom_pde copied into that folder).
# Any failure exits non-zero. CI runs it after the tests; ~5 min on a 2-core CPU.
#   bash scripts/check_installed.sh            # builds with .venv's python (scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PY:-$REPO/.venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pinn-installed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "build: sdist, then the wheel from the sdist"
"$PY" -m pip install -q build 2>&1 | grep -v WARNING || true
"$PY" -m build --no-isolation -o "$WORK/dist" . > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
WHEEL=$(ls "$WORK"/dist/*.whl)
ls "$WORK/dist"

step "a fresh venv, the wheel installed non-editable"
python3 -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/python" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}" 2>&1 | grep -v WARNING || true
"$V/python" -m pip install -q "$WHEEL" 2>&1 | grep -v WARNING || true
mkdir "$WORK/user" && cd "$WORK/user"
"$V/python" - <<'EOF'
import pinn_cli, os
where = os.path.dirname(pinn_cli.__file__)
assert "site-packages" in where, f"pinn_cli imported from {where}, not the installed wheel"
print("pinn_cli", pinn_cli.__version__, "from", where)
EOF

step "--version and python -m pinn_cli"
for c in pinn-train pinn-analyze pinn-predict; do "$V/$c" --version; done
"$V/python" -m pinn_cli --version
"$V/python" -m pinn_cli > /dev/null

export PINN_CLI_CACHE="$WORK/cache"
TINY=(device=cpu threads=1 iterations=3 eval_every=1 log_every=1 checkpoint_every=3
      pde.n_collocation=400)
options() {   # the installed options of a config group
    "$V/python" -c "import pinn_cli.conf as c, pathlib, sys
print(','.join(sorted(p.stem for p in (pathlib.Path(c.__file__).parent / sys.argv[1]).glob('*.yaml'))))" "$1"
}
sweep() {     # sweep NAME OVERRIDES...: one multirun; fails if any job did not end done
    local name=$1; shift
    local small=(model.depth=2 model.width=8)   # the models' own sizes where models are swept
    [ "$name" = model ] && small=()
    "$V/pinn-train" -m "${TINY[@]}" "${small[@]}" "hydra.sweep.dir=sweeps/$name" "$@" > "$WORK/$name.log" 2>&1 \
        || { tail -30 "$WORK/$name.log"; echo "FAILED: pinn-train -m $*"; exit 1; }
    echo "ok  $name: $(( $(wc -l < "sweeps/$name/summary.csv") - 1 )) jobs done ($*)"
}

step "every option of every group, a few steps each"
PDES=$(options pde | tr ',' '\n' | grep -v lid_driven_cavity | paste -sd, -)
sweep pde "pde=$PDES"
sweep cavity pde=lid_driven_cavity pde.re=100 pde.reference.n=16 pde.n_boundary=32
for g in model optimizer weighting objective diagnostics sampling; do
    sweep "$g" pde=burgers_smooth "$g=$(options "$g")"
done
sweep strategy pde=burgers_smooth "strategy=none,time_marching" iterations=4
sweep continuation pde=burgers_smooth strategy=continuation strategy.key=nu "strategy.values=[0.1]" iterations=4

step "a sweep of two jobs, pinn-analyze, pinn-predict, pinn_cli.load"
sweep seeds pde=helmholtz_smooth seed=0,1 iterations=20
"$V/pinn-analyze" --no-figures sweeps/seeds > "$WORK/analyze.log" || { cat "$WORK/analyze.log"; exit 1; }
RUN=$(dirname "$(ls sweeps/seeds/*/run.h5 | head -1)")
"$V/pinn-analyze" "$RUN" > /dev/null
ls "$RUN/analysis/summary.json" > /dev/null
printf 'x,y\n0.1,0.2\n0.5,0.5\n' > points.csv
"$V/pinn-predict" "$RUN" points.csv -o values.csv --derivatives u_x
[ "$(wc -l < values.csv)" = 3 ] || { cat values.csv; echo "FAILED: pinn-predict wrote no 2 rows"; exit 1; }
"$V/python" -c "import pinn_cli, sys; e = pinn_cli.load(sys.argv[1]).errors(); print('load:', e)" "$RUN"

step "a user's own PDE from this folder"
cp -r "$REPO/examples/custom_pde" plugin && cd plugin
"$V/pinn-train" --config-dir conf pde=heat "${TINY[@]}" model.width=8 hydra.run.dir=heat_run > "$WORK/heat.log" 2>&1 \
    || { tail -30 "$WORK/heat.log"; echo "FAILED: the plugin run"; exit 1; }
"$V/pinn-analyze" --no-figures heat_run > /dev/null
"$V/python" -c "import pinn_cli; print('plugin load:', pinn_cli.load('heat_run').errors())"
cd .. && "$V/python" -c "import pinn_cli; print('plugin load from elsewhere:', pinn_cli.load('plugin/heat_run').errors())"

step "the installed package passed"
