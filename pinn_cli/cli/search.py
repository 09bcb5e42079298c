"""``hydra/sweeper=search``: hydra-optuna-sweeper's search, made to resume from its storage.

The plugin asks Optuna for ``n_trials`` new trials every time it is started. A search that a
Ctrl-C, a crash or a time limit stopped should instead go on to ``n_trials`` in all: before Hydra
starts, pinn-train reads the study from its storage (SQLite in the sweep folder,
``conf/hydra/sweeper/search.yaml``), marks the trials a stopped search left running as failed
(their jobs were cut short), and asks the plugin only for the trials still missing
(``hydra.sweeper.n_trials``; none: the search is complete and nothing runs), its sampler seeded
anew (seed + trials finished) so that it does not draw the first trials again. Each trial is one pinn-train job whose return
value is the run's ``score`` (``conf/train.yaml``: final or best rel-L2, or the step or wall time
at which rel-L2 first reaches ``score_target``).
"""
from __future__ import annotations

import optuna


def remaining(storage: str | None, study_name: str, n_trials: int) -> int:
    """Trials still to run for ``n_trials`` in all; a stopped search's running trials failed."""
    if not storage:
        return n_trials
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:                         # no such study yet: a new search
        return n_trials
    for t in study.get_trials(deepcopy=False):
        if t.state == optuna.trial.TrialState.RUNNING:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    return max(0, n_trials - finished)

