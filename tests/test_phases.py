"""Phase detection on synthetic SNR series with known transitions, noise, gaps and early ends."""
from __future__ import annotations

import numpy as np
import pytest

from pinn_cli.phases.offline import PhaseParams, detect


def cadence(end: int) -> np.ndarray:
    """The paper's irregular cadence: every 5 steps to 300, then every 100."""
    return np.unique(np.concatenate([np.arange(0, 301, 5), np.arange(300, end + 1, 100)]))


def synthetic(steps, fit_end, total, rng, levels=(1.2, -0.6, 0.4), noise=0.5):
    """log10 SNR at the three levels, with log-normal flicker of ~an order of magnitude."""
    y = np.where(steps < fit_end, levels[0], levels[1])
    if total is not None:
        y = np.where(steps >= total, levels[2], y)
    return 10 ** (y + rng.normal(0, noise, len(steps)))


@pytest.mark.parametrize("fit_end,total,end", [(150, 11_100, 30_000), (180, 19_000, 40_000),
                                              (70, 1_000, 10_000), (150, 91_700, 300_000)])
@pytest.mark.parametrize("seed", range(5))
def test_onsets_are_recovered_within_ten_percent(fit_end, total, end, seed):
    rng = np.random.default_rng(seed)
    steps = cadence(end)
    ph = detect(steps, synthetic(steps, fit_end, total, rng))
    assert ph.started_in_fitting
    assert abs(ph.fitting_end - fit_end) <= 0.1 * fit_end
    assert abs(ph.total_diffusion - total) <= 0.1 * total


@pytest.mark.parametrize("seed", range(5))
def test_no_return_above_one_is_not_reached(seed):
    rng = np.random.default_rng(seed)
    steps = cadence(50_000)
    ph = detect(steps, synthetic(steps, 150, None, rng))
    assert ph.fitting_end is not None and ph.total_diffusion is None


def test_series_that_never_leaves_fitting_or_starts_in_diffusion():
    rng = np.random.default_rng(0)
    steps = cadence(20_000)
    always_high = detect(steps, synthetic(steps, 10**9, None, rng))
    assert always_high.fitting_end is None and always_high.total_diffusion is None
    starts_low = detect(steps, synthetic(steps, -1, 5_000, rng))
    assert not starts_low.started_in_fitting and starts_low.fitting_end is None
    assert abs(starts_low.total_diffusion - 5_000) <= 500     # the return above 1 is still found


def test_run_that_ends_early_is_not_reached_or_right_never_wrong():
    for seed in range(5):
        for end in (10_000, 11_500, 12_500, 14_000):        # the transition is at 11,100
            steps = cadence(end)
            ph = detect(steps, synthetic(steps, 150, 11_100, np.random.default_rng(seed)))
            assert ph.total_diffusion is None or abs(ph.total_diffusion - 11_100) <= 1_110
            if end == 10_000:
                assert ph.total_diffusion is None


def test_gaps_nans_and_a_single_record():
    rng = np.random.default_rng(1)
    steps = cadence(20_000)
    snr = synthetic(steps, 150, 11_100, rng)
    snr[::7] = np.nan                                  # NaNs are dropped
    snr[10:14] = 0.0                                   # so are non-positive values
    keep = (steps < 3_000) | (steps > 6_000)           # a gap in the records
    ph = detect(steps[keep], snr[keep])
    assert abs(ph.fitting_end - 150) <= 15
    assert ph.total_diffusion is not None and abs(ph.total_diffusion - 11_100) <= 1_110
    one = detect([0], [5.0])
    assert one.fitting_end is None and one.total_diffusion is None
    empty = detect([0, 5], [np.nan, np.nan])
    assert len(empty.steps) == 0 and empty.fitting_end is None


def test_a_brief_dip_is_not_a_transition():
    steps = cadence(20_000)
    snr = np.full(len(steps), 10.0)
    snr[(steps > 2_000) & (steps < 2_300)] = 0.1      # 3 records: shorter than min_records
    assert detect(steps, snr, PhaseParams()).fitting_end is None


def test_onsets_step_in_the_right_direction():
    """Around total diffusion the SNR rises, around the end of fitting it falls, even when the
    series flickers across 1 nearby (a dip just before the rise must not be taken as the onset)."""
    from pinn_cli.phases.offline import refine
    y = np.array([0.5, 0.4, 0.6, -1.0, -1.2, -0.9, -1.1, 1.0, 1.1, 0.9, 1.2, 1.0])
    assert refine(y, 7, 5, up=True) == 7
    assert refine(y, 7, 5, up=False) == 3
    for seed in range(5):
        steps = cadence(30_000)
        ph = detect(steps, synthetic(steps, 150, 11_100, np.random.default_rng(seed)))
        before = np.median(ph.snr[(ph.steps >= ph.total_diffusion / 1.5) & (ph.steps < ph.total_diffusion)])
        after = np.median(ph.snr[(ph.steps >= ph.total_diffusion) & (ph.steps < ph.total_diffusion * 1.5)])
        assert before < 1 < after


# ---- the lid-driven cavity: SNR above 1 early, a slow drift toward 1 late ---------------------

def drifting(steps, rng, high, drift_from, to, wander=0.15, cycles=(1, 3), early=None, noise=0.5):
    """log10 SNR at ``high`` up to ``drift_from``, then a straight drift in log step to ``to`` at the
    last step; a slow wander (six sinusoids of ``cycles`` per decade of step, ``wander`` decades
    rms) that makes the smoothed SNR cross 1 back and forth where the drift nears it; ``early`` =
    (step, level): another level before that step; and the flicker of ``synthetic``."""
    x = np.log10(steps + 1)
    x0, x1 = np.log10(drift_from + 1), x[-1]
    y = np.where(steps < drift_from, high, high + (to - high) * (x - x0) / (x1 - x0))
    f, phase = rng.uniform(*cycles, 6), rng.uniform(0, 2 * np.pi, 6)
    y = y + wander * np.sqrt(2 / 6) * np.sin(2 * np.pi * f * x[:, None] + phase).sum(1)
    if early is not None:
        y = np.where(steps < early[0], early[1], y)
    return 10 ** (y + rng.normal(0, noise, len(steps)))


OLD_RULES = PhaseParams(jump=-np.inf, fit_by=np.inf)    # no step size, no bound: the rules before


def cavity(seed: int, end: int):
    """SNR ~3-10 over the first 10-20 % of the run, then a drift to ~1-1.5 by its end."""
    rng = np.random.default_rng(seed)
    steps = cadence(end)
    return steps, drifting(steps, rng, high=rng.uniform(0.5, 1.0), to=rng.uniform(0.0, 0.18),
                           drift_from=rng.uniform(0.1, 0.2) * end)


@pytest.mark.parametrize("end", [300_000, 30_000])
def test_a_slow_late_drift_to_one_is_no_transition(end):
    crossing = 0
    for seed in range(8):
        steps, snr = cavity(seed, end)
        ph = detect(steps, snr)
        assert ph.started_in_fitting
        assert ph.fitting_end is None and ph.total_diffusion is None, seed
        crossing += detect(steps, snr, OLD_RULES).fitting_end is not None
    assert crossing >= 3          # the old rules placed a fitting end deep in several of them


def test_a_drift_that_crosses_one_only_in_the_last_few_percent():
    steps = cadence(300_000)
    x0, x1, xc = np.log10(45_001), np.log10(300_001), np.log10(0.95 * 300_000)
    to = 0.75 - 0.75 * (x1 - x0) / (xc - x0)           # the mean crosses 1 at 95 % of the run
    crossing = 0
    for seed in range(10):
        snr = drifting(steps, np.random.default_rng(seed), 0.75, 45_000, to, wander=0.0)
        ph = detect(steps, snr)
        assert ph.fitting_end is None and ph.total_diffusion is None
        crossing += detect(steps, snr, OLD_RULES).fitting_end is not None
    assert crossing >= 3


def test_a_late_drift_after_a_genuine_early_drop():
    steps = cadence(300_000)
    crossing = 0
    for seed in range(4):
        # fitting at SNR ~30 drops at step 150 to ~5 (still above 1), then the cavity's drift
        rng = np.random.default_rng(seed)
        snr = drifting(steps, rng, 0.7, 45_000, 0.1, early=(150, 1.5))
        ph = detect(steps, snr)
        assert ph.fitting_end is None and ph.total_diffusion is None
        crossing += detect(steps, snr, OLD_RULES).fitting_end is not None
        # fitting drops below 1 at step 150, then the SNR drifts slowly back up across 1
        snr = drifting(steps, rng, -0.6, 20_000, 0.15, wander=0.05, early=(150, 1.2))
        ph = detect(steps, snr)
        assert abs(ph.fitting_end - 150) <= 15
        assert ph.total_diffusion is None and ph.rejected["total_diffusion"] > 20_000
        assert detect(steps, snr, OLD_RULES).total_diffusion > 20_000
    assert crossing >= 2


def test_an_abrupt_drop_after_the_fitting_bound_is_not_the_end_of_fitting():
    steps = cadence(50_000)
    ph = detect(steps, synthetic(steps, 20_000, None, np.random.default_rng(0)))
    assert ph.fitting_end is None
    assert abs(detect(steps, synthetic(steps, 20_000, None, np.random.default_rng(0)),
                      PhaseParams(fit_by=30_000)).fitting_end - 20_000) <= 2_000
