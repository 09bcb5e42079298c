"""The probes' view of a run, made from the trainer's parts (:mod:`pinn_cli.diagnostics.view`)."""
from __future__ import annotations

from pinn_cli.diagnostics.view import RunInfo, RunView
from pinn_cli.optimizers.view import OptimizerView


def run_view(*, problem, pde, model, field, loss, weighting, optimizer, evaluator, device,
             dtype) -> RunView:
    """Every field and method of the RunView, bound to this run's objects."""
    info = RunInfo(problem=problem, term_weights=dict(loss.term_weights),
                   observables=tuple(evaluator.names), reference_points=evaluator.points,
                   reference_values=dict(evaluator.values), reference_axes=evaluator.axes,
                   points=dict(loss.points), chunk=loss.chunk,
                   n_weights=len(model.weight_matrices()), device=device, dtype=dtype)
    return RunView(info=info, optimizer=OptimizerView(optimizer), _errors=evaluator.rel_l2,
                   _points=lambda: loss.points,
                   _observables=lambda x: pde.observables(field, x),
                   _residual=lambda x: pde.residual(field, x), _hidden=model.hidden,
                   _weight_matrices=model.weight_matrices, _point_weights=weighting.weights,
                   _weighting_stats=weighting.stats, _evaluation_grid=pde.evaluation_grid)
