"""The online (causal) phase detector against the offline one, on the synthetic series of
test_phases: same onsets, never a transition the offline one does not find, bounded delay."""
from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from pinn_cli.phases.online import OnlinePhases
from pinn_cli.phases.offline import PhaseParams, detect
from tests.test_phases import cadence, cavity, drifting, synthetic

KINDS = ("fitting_end", "total_diffusion")


def feed(steps, snr, params=None):
    """-> (detector after every record, finished state, {kind: index of the confirming record})."""
    det, at = OnlinePhases(params), {}
    for n, (s, v) in enumerate(zip(steps, snr)):
        for t in det.update(s, v).just_confirmed:
            assert t.kind not in at                      # each transition is confirmed once
            at[t.kind] = n
    confirmed = dict(det.onsets)
    return det, confirmed, det.finish(), at


def agree(steps, snr, params=None):
    """Every confirmed online onset is detect's, on the whole series and on the records up to its
    confirmation followed by anything else; after finish() the two agree completely."""
    det, confirmed, final, at = feed(steps, snr, params)
    off = detect(steps, snr, params)
    for kind in KINDS:
        if confirmed[kind] is not None:
            assert confirmed[kind] == getattr(off, kind)
            n = at[kind] + 1
            junk = 10 ** np.random.default_rng(n).normal(-2, 1, len(snr) - n)
            other = np.concatenate([snr[:n], junk])
            assert getattr(detect(steps, other, params), kind) == confirmed[kind]
        assert getattr(final, kind) == getattr(off, kind)
    assert det.started == off.started_in_fitting and det.rejected == off.rejected
    return det, confirmed, off


CASES = [(150, 11_100, 30_000), (180, 19_000, 40_000), (70, 1_000, 10_000), (150, 91_700, 300_000)]


@pytest.mark.parametrize("fit_end,total,end", CASES)
def test_online_onsets_are_the_offline_ones_and_within_ten_percent(fit_end, total, end):
    for seed in range(3):
        steps = cadence(end)
        snr = synthetic(steps, fit_end, total, np.random.default_rng(seed))
        det, confirmed, _ = agree(steps, snr)
        assert abs(confirmed["fitting_end"] - fit_end) <= 0.1 * fit_end
        assert abs(confirmed["total_diffusion"] - total) <= 0.1 * total
        assert [t.kind for t in det.transitions] == list(KINDS)


def test_confirmation_delay_is_the_documented_one():
    """Confirmed by the first record at or past max(1.9 s, 21 records after the onset s), and not
    before 1.5 s and the 14 records from the onset on (module docstring)."""
    for fit_end, total, end in CASES:
        for seed in range(3):
            steps = cadence(end)
            det, *_ = feed(steps, synthetic(steps, fit_end, total, np.random.default_rng(seed)))
            for t in det.transitions:
                k = int(np.searchsorted(steps, t.step))
                assert t.confirmed_at > 1.5 * t.step and t.records_after >= 13   # no sooner
                bound = max(1.9 * t.step, steps[min(k + 21, len(steps) - 1)])
                assert t.confirmed_at <= steps[np.searchsorted(steps, bound)]


def test_no_online_transition_the_offline_detector_does_not_find():
    steps = cadence(50_000)
    agree(steps, synthetic(steps, 150, None, np.random.default_rng(0)))      # no total diffusion
    agree(steps, synthetic(steps, 10**9, None, np.random.default_rng(1)))    # never leaves fitting
    _, confirmed, off = agree(steps, synthetic(steps, -1, 5_000, np.random.default_rng(2)))
    assert not off.started_in_fitting and confirmed["total_diffusion"] == off.total_diffusion
    for seed in range(3):                 # total diffusion crosses before fitting_end is confirmed
        steps = cadence(5_000)
        det, confirmed, _ = agree(steps, synthetic(steps, 150, 230, np.random.default_rng(seed)))
        assert det.transitions[0].confirmed_at > confirmed["total_diffusion"] == 230
    for end in (10_000, 11_500, 12_500, 14_000):                            # runs ending early
        steps = cadence(end)
        _, confirmed, _ = agree(steps, synthetic(steps, 150, 11_100, np.random.default_rng(3)))
        assert confirmed["total_diffusion"] is None                          # not yet confirmable
    for seed in range(3):                                                    # the cavity's drift
        steps, snr = cavity(seed, 300_000)
        det, confirmed, _ = agree(steps, snr)
        assert confirmed == dict.fromkeys(KINDS) and det.phase == "fitting"
    steps = cadence(300_000)
    snr = drifting(steps, np.random.default_rng(4), -0.6, 20_000, 0.15, wander=0.05,
                   early=(150, 1.2))
    det, confirmed, off = agree(steps, snr)
    assert confirmed["total_diffusion"] is None and "total_diffusion" in det.rejected


def test_gaps_nans_out_of_order_and_tiny_series():
    steps = cadence(20_000)
    snr = synthetic(steps, 150, 11_100, np.random.default_rng(1))
    snr[::7], snr[10:14] = np.nan, 0.0
    keep = (steps < 3_000) | (steps > 6_000)
    det, *_ = agree(steps[keep], snr[keep])
    assert det.dropped == np.sum(~(snr[keep] > 0))
    det = OnlinePhases()
    assert det.update(0, 5.0).phase == "unknown" and det.update(-5, 5.0).phase == "unknown"
    assert det.dropped == 1 and det.finish().fitting_end is None
    with pytest.raises(RuntimeError):
        det.update(10, 1.0)
    assert OnlinePhases().finish().phase == "unknown"


def test_phase_goes_forward_and_a_phase_action_fires_once():
    steps = cadence(30_000)
    snr = synthetic(steps, 150, 11_100, np.random.default_rng(0))
    det, lr, phases = OnlinePhases(), 1e-3, []
    for s, v in zip(steps, snr):
        st = det.update(s, v)
        phases.append(st.phase)
        if any(t.kind == "total_diffusion" for t in st.just_confirmed):
            lr *= 0.1                                    # decay the learning rate
    order = ["unknown", "fitting", "diffusion", "total_diffusion"]
    assert sorted(set(phases), key=order.index) == order
    assert [order.index(ph) for ph in phases] == sorted(order.index(ph) for ph in phases)
    assert lr == pytest.approx(1e-4) and st.smooth > 1 and st.smooth_step < steps[-1]


def test_state_dict_resumes_and_replay_rebuilds():
    steps = cadence(30_000)
    snr = synthetic(steps, 150, 11_100, np.random.default_rng(2))
    whole = OnlinePhases.replay(steps, snr)
    for cut in (30, 95, 150, 200):                    # before, around and after each onset
        first = OnlinePhases.replay(steps[:cut], snr[:cut])
        saved = pickle.loads(pickle.dumps(first.state_dict()))
        assert all(isinstance(v, (int, float, bool, str, list, dict, np.ndarray, type(None)))
                   for v in saved.values())
        resumed = OnlinePhases(PhaseParams(window=1.0))    # the saved parameters win
        resumed.load_state_dict(saved)
        for s, v in zip(steps[cut:], snr[cut:]):
            resumed.update(s, v)
        assert resumed.transitions == whole.transitions and resumed.onsets == whole.onsets
        assert np.array_equal(resumed.state_dict()["log_smooth"], whole.state_dict()["log_smooth"])


def test_an_update_costs_a_window_not_the_history():
    steps = cadence(300_000)[:3_000]
    snr = synthetic(steps, 150, 91_700, np.random.default_rng(0))
    det, times = OnlinePhases(), []
    for s, v in zip(steps, snr):
        t0 = time.perf_counter()
        det.update(s, v)
        times.append(time.perf_counter() - t0)
    times = np.array(times)
    assert np.median(times) < 1e-3 and times.sum() < 3.0
    # no growth with the history: the late updates cost about what the early sparse ones do
    assert np.median(times[-500:]) < 4 * np.median(times[100:600]) + 1e-4


# ---- scripts/online_vs_offline.py ---------------------------------------------------------------
def _script():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "scripts" / "online_vs_offline.py"
    spec = importlib.util.spec_from_file_location("online_vs_offline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run_file(path, steps, snr, live=True, tamper=None, seed=0, weighting="rba"):
    """A run file as the SNR probe writes it: /snr/global, and the live phase fields."""
    import json

    import yaml

    from pinn_cli.diagnostics.probes import SNRProbe
    from pinn_cli.runfile import RunWriter, SeriesSpec
    fields = {"global": ((), "f8")}
    if live:
        fields.update({"phase": ((), "i1"), "smooth": ((), "f8"), "action": ((), "i1")})
    attrs = {"choices": json.dumps({"experiment": "synthetic", "weighting": weighting,
                                    "pde": "burgers"}),
             "config": yaml.safe_dump({"seed": seed})}
    w, probe = RunWriter(path, attrs, {"snr": SeriesSpec(fields)}), SNRProbe(batches=2)
    for n, (s, v) in enumerate(zip(steps, snr)):
        rec = {"global": v, **(probe._live(int(s), float(v)) if live else {})}
        if tamper is not None and n == tamper:
            rec["phase"] = 0
        w.append("snr", int(s), **rec)
    w.close("done")


def test_online_vs_offline_script_compares_a_run_file(tmp_path, capsys):
    ovo = _script()
    steps = cadence(5_000)
    snr = synthetic(steps, 100, 1_000, np.random.default_rng(0))
    (tmp_path / "a").mkdir()
    _run_file(tmp_path / "a" / "run.h5", steps, snr)
    r = ovo.compare_run(tmp_path / "a" / "run.h5")
    off = detect(steps, snr)
    assert r["label"] == "synthetic/rba/0" and r["live"] and r["problems"] == []
    for kind in KINDS:
        d = r["kinds"][kind]
        assert d["offline"] == d["online"] == getattr(off, kind) and d["diff"] == 0
        assert d["confirmed"] == d["live_confirmed"] == d["predicted"]
        assert d["delay"] == d["confirmed"] - d["offline"] > 0
    # the live record tampered with: reported; no live fields: the replay alone
    (tmp_path / "b").mkdir()
    _run_file(tmp_path / "b" / "run.h5", steps, snr, tamper=80)
    assert any("live phase" in p for p in ovo.compare_run(tmp_path / "b" / "run.h5")["problems"])
    # a run that ends before total diffusion can be confirmed: offline only, and no failed check
    (tmp_path / "c").mkdir()
    short = steps <= 1_800
    _run_file(tmp_path / "c" / "run.h5", steps[short], snr[short], live=False, seed=1)
    c = ovo.compare_run(tmp_path / "c" / "run.h5")
    assert not c["live"] and c["problems"] == []
    assert c["kinds"]["total_diffusion"]["offline"] == off.total_diffusion
    assert c["kinds"]["total_diffusion"]["online"] is None
    need = c["kinds"]["total_diffusion"]
    assert need["needs_step"] > steps[short][-1] or need["needs_records"] > short.sum()
    assert ovo.main([str(tmp_path)]) == 1                              # b's check failed
    out = capsys.readouterr().out
    assert "| synthetic/rba/0 (a) |" in out and "| synthetic/rba/1 |" in out   # a, b: folders
    assert "| synthetic/rba | 3 | 3, 2 | 0.0 | 0 |" in out and "needs a record past step" in out


def test_the_documented_confirmation_rule_gives_the_confirming_record():
    """Rules A-E (scripts/online_vs_offline.py) name the very record that confirms each
    transition; B counts the K // 2 = 3 records after the sustained window's last record (the
    ones its widened running median reads), not K - K // 2 = 4 (at the cadence change at step
    300: onsets at ~200 are confirmed at 600, not 700)."""
    ovo = _script()
    n = 0
    for fit_end, total, end in CASES + [(100, 205, 3_000), (150, 230, 5_000), (-1, 5_000, 50_000)]:
        for seed in range(4):
            steps = cadence(end)
            snr = synthetic(steps, fit_end, total, np.random.default_rng(seed))
            det = OnlinePhases.replay(steps, snr)
            pred = ovo.predicted_confirmations(steps.astype(float), snr, PhaseParams())
            for t in det.transitions:
                assert steps[pred[t.kind][2]] == t.confirmed_at
                n += 1
            assert set(pred) == {t.kind for t in det.transitions}
    assert n >= 50
