"""The loss engine: the one place where residuals are formed, weighted and summed into the loss,
and differentiated (with the SNR's batch gradients and the per-term gradients when asked).

(The ``objective`` config group chooses *what* is fitted and the pointwise loss rho; this engine
forms and differentiates that loss.)

    L = sum_k w_k (1 / N_k) sum_i sum_q rho((W[e_k])_iq)

over the loss terms k (``res``, the interior residual at the collocation points, and the PDE's
condition terms ``ic``, ``bc``...), with w_k the PDE's ``loss_weights`` (1 where not given), e_k
the pointwise residuals ((N_k,) or (N_k, q)), W the weighting scheme and rho the pointwise loss
(``objective.loss``, :mod:`pinn_cli.objective.losses`; rho(e) = e^2 by default). The weighting
multiplies the residuals *before* rho: its formula stays as configured (RBA's lambda_i r_i enters
as rho(lambda_i r_i), which is lambda_i^2 r_i^2 only for the squared loss). The training step, the
SNR batch gradients (fast and naive) and an optimizer's closure all go through it, so every path
sees the same weights. Every rho is a sum over points, so the chunked backward and the fast SNR
capture below hold for each of them.

One iteration (:meth:`LossEngine.backward`):

1. the condition residuals (few points, one pass);
2. if the weighting updates from the residuals and the interior comes in several chunks, every
   chunk's residual without a graph first (the weighting's update reads all points, e.g. RBA's
   max |r|; the paper's order: update, then the loss), then ``weighting.update``;
3. per chunk of interior points: residual with a graph, weighting, its share of the loss,
   ``backward``. The graph of one chunk is freed before the next is built, so a step's memory is
   bounded by the chunk, not by the number of points; the gradients accumulate in ``.grad`` and
   equal one backward over all points (up to summation order).

Batch-gradient SNR: the N interior points are B consecutive batches of N / B; batch b's loss is
its re-weighted interior term plus the whole condition terms. ``capture=B`` returns the
elementwise mean and variance of the B batch gradients (:class:`BatchMoments`), from the step's
own backward where the field's derivative streams allow it
(``field.capture``, :mod:`pinn_cli.fields.capture`: each chunk's shares merged into the moments as
the chunk ends, memory bounded by the chunk), else by one backward per batch after the step's
own (same parameters, same updated weights; :meth:`LossEngine.batch_moments`).

Per-term gradients. On a capturing step, and on a step where the weighting asks for them
(``weighting.wants_term_grads(step)``, e.g. grad-norm balancing), the backward keeps each term's
gradient apart at no extra backward pass: the interior gradient is ``.grad`` after the chunks
(a copy), and each condition term gets its own backward (``autograd.grad``, added to ``.grad``)
instead of one over their sum. ``StepResult.term_grads`` (the probes see it as
``StepState.term_grads``) holds ``{k: [dL_k'/dp for every model parameter]}`` with
``L_k' = w_k mean(rho(W[e_k]))``, the term as it enters the loss; their sum is the full gradient. The weighting then receives them
(``weighting.term_gradients(grads, step)``) if it asked.
"""
from __future__ import annotations

import contextlib

import torch

from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.diagnostics.snr import check_batches
from pinn_cli.objective.losses import Rho, squared


class StepResult:
    """What one evaluation of the objective leaves for the probes (all detached, on the device).

    Attributes:
        loss: () the total loss.
        terms: {k: ()} each term's mean of rho(W[e_k]), as it enters the loss (times w_k).
        residuals: {k: (N_k,) or (N_k, q)} the pointwise residuals before weighting.
        batch_moments: the :class:`BatchMoments` of the B batch gradients, when captured; else None.
        term_grads: {k: [one tensor per model parameter]} each term's gradient as it enters the
            loss, when captured or asked for by the weighting; else None.
    """

    def __init__(self, loss, terms, residuals, batch_moments=None, term_grads=None):
        self.loss, self.terms, self.residuals = loss, terms, residuals
        self.batch_moments = batch_moments
        self.term_grads = term_grads


class LossEngine:
    """Args:
        pde: the problem (residual, conditions, loss_weights).
        field: the network as a field (:class:`pinn_cli.fields.field.Field`).
        weighting: the weighting scheme, already set up with ``points``.
        points: {term: (N_k, d)} the training points on the device.
        chunk: interior points per chunk (0: all at once).
        snr_batches: B when the SNR is recorded (chunks then hold whole batches), else 0.
        fast_capture: take the batch gradients from the step's own backward through the
            derivative streams where the field has them (False: always one backward per batch).
        rho: the pointwise loss, elementwise on the weighted residuals (default e^2).
    """

    def __init__(self, pde, field, weighting, points: dict[str, torch.Tensor], chunk: int = 0,
                 snr_batches: int = 0, fast_capture: bool = True, rho: Rho = squared):
        self.pde, self.field, self.weighting = pde, field, weighting
        self.rho = rho
        self.term_weights = {k: float(pde.loss_weights.get(k, 1.0)) for k in points}
        self.chunk_size, self.snr_batches = chunk, snr_batches
        self.set_points(points)
        self.fast_capture = fast_capture and field.streams_ok   # False once streams fall short
        self.model_params = list(field.model.parameters())
        self.params = [*self.model_params, *weighting.parameters()]

    def state_dict(self) -> dict:
        """The fallbacks taken so far (streams or compile that fell short), which a resumed run
        must keep taking to be the same computation."""
        return {"fast_capture": self.fast_capture, "streams_ok": self.field.streams_ok,
                "compiled": self.field.compiled}

    def load_state_dict(self, state: dict | None) -> None:
        if state:
            self.fast_capture = state["fast_capture"]
            self.field.streams_ok, self.field.compiled = state["streams_ok"], state["compiled"]

    def set_points(self, points: dict[str, torch.Tensor]) -> None:
        """The training points {term: (N_k, d)} (at the start, and after a resample or a new
        time window); the interior's chunks hold whole SNR batches, so that a capture splits by batch."""
        self.points, self.n_res = points, len(points["res"])
        self.chunk = self.chunk_size or self.n_res
        if self.snr_batches:
            per_batch = check_batches(self.n_res, self.snr_batches)
            self.chunk = max(1, self.chunk // per_batch) * per_batch

    # ---- pieces ----------------------------------------------------------------------------
    def chunks(self) -> list[slice]:
        return [slice(a, min(a + self.chunk, self.n_res)) for a in range(0, self.n_res, self.chunk)]

    def residuals(self, rows=None) -> dict[str, torch.Tensor]:
        """Pointwise residuals with a graph: the interior at ``rows`` (all if None), the
        conditions whole."""
        x = self.points["res"] if rows is None else self.points["res"][rows]
        return {"res": self.pde.residual(self.field, x), **self.pde.conditions(self.field, self.points)}

    def loss(self, residuals: dict[str, torch.Tensor], rows=None, n_res: int | None = None):
        """The loss of ``residuals`` -> (loss (), {k: ()}): term k is sum rho(W[e_k]) / N_k,
        rho after the weighting. ``rows``: which interior points ``"res"`` holds; ``n_res``: the
        N its sum is divided by (default: its own length)."""
        weighted = self.weighting.apply(residuals, rows)               # {k: (N_k,) or (N_k, q)}
        terms = {k: self.rho(e).sum() / (n_res if k == "res" and n_res else len(e))
                 for k, e in weighted.items()}
        return sum(self.term_weights[k] * t for k, t in terms.items()), terms

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    # ---- one iteration ---------------------------------------------------------------------
    def backward(self, step: int, update: bool = True, capture: int = 0) -> StepResult:
        """Gradients of L at the current parameters into ``.grad`` (accumulated: zero first)."""
        fast = bool(capture) and self.fast_capture
        wanted = update and self.weighting.wants_term_grads(step)
        split = bool(capture) or wanted
        conds = self.pde.conditions(self.field, self.points)
        chunks = self.chunks()
        pending = update
        if update and not self.weighting.uses_residuals:
            self.weighting.update(None, step)
            pending = False
        elif update and len(chunks) > 1:
            self.weighting.update({"res": self.interior_residuals(chunks), **_detach(conds)}, step)
            pending = False
        loss, terms, parts, shares = self._interior_backward(step, chunks, conds, pending, fast, capture)
        fast = fast and self.fast_capture                      # False if the streams fell short
        grads = {"res": self._model_grads()} if split else None   # (the interior's share of .grad)
        if conds:
            cond_loss, cond_terms = self.loss(conds)
            if split:
                grads.update(self._backward_per_term(cond_terms))
            else:
                cond_loss.backward()
            loss = loss + cond_loss.detach()
            terms.update({k: v.detach() for k, v in cond_terms.items()})
        result = StepResult(loss, terms, {"res": torch.cat(parts), **_detach(conds)}, term_grads=grads)
        if split:
            self.term_grads = grads
        if capture:
            weights = self.field.model.weight_matrices()
            result.batch_moments = (BatchMoments.of_shares(shares, weights, capture) if fast
                                    else self.batch_moments(capture))
        if wanted:
            self.weighting.term_gradients(grads, step)
        return result

    def _interior_backward(self, step, chunks, conds, pending, fast, capture):
        """The interior term chunk by chunk, each chunk's graph freed after its backward;
        -> (loss (), {"res": ()}, residual chunks, the moments of the SNR shares C_b)."""
        loss, terms, parts, shares = 0.0, {}, [], BatchMoments()
        for rows in chunks:
            scope = self.field.capture(self.n_res // capture) if fast else contextlib.nullcontext()
            with scope as cap:
                r = self.pde.residual(self.field, self.points["res"][rows])
                if pending:                                        # one chunk: update in place
                    self.weighting.update({"res": r.detach(), **_detach(conds)}, step)
                    pending = False
                part, t = self.loss({"res": r}, rows, self.n_res)
                part.backward()
                chunk_shares = cap.shares() if fast else None      # None: the streams fell short
                if fast and chunk_shares is None:
                    self.fast_capture = fast = False
                if fast:
                    shares.add(chunk_shares)
            loss = loss + part.detach()
            terms["res"] = terms.get("res", 0.0) + t["res"].detach()
            parts.append(r.detach())
        return loss, terms, parts, shares


    def _model_grads(self) -> list[torch.Tensor]:
        """A copy of every model parameter's ``.grad`` (zeros where there is none)."""
        return [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                for p in self.model_params]

    def _backward_per_term(self, cond_terms: dict[str, torch.Tensor]) -> dict[str, list]:
        """One backward per condition term, each added to ``.grad``; -> {k: [grad per model
        parameter]}. With one term the sum in ``.grad`` is bit-identical to one backward."""
        out, keys, n_model = {}, list(cond_terms), len(self.model_params)
        for j, k in enumerate(keys):
            grads = torch.autograd.grad(self.term_weights[k] * cond_terms[k], self.params,
                                        retain_graph=j < len(keys) - 1, allow_unused=True)
            for p, g in zip(self.params, grads):
                if g is not None:
                    p.grad = g.clone() if p.grad is None else p.grad.add_(g)
            out[k] = [torch.zeros_like(p) if g is None else g
                      for p, g in zip(self.model_params, grads[:n_model])]
        return out

    def closure(self, step: int, capture: int = 0):
        """-> (closure, results) for optimizers that re-evaluate the loss: each call zeroes the
        gradients, evaluates and returns the loss; the weighting updates (and the SNR is captured)
        on the first call only; ``results[0]`` is that first evaluation."""
        results: list[StepResult] = []

        def closure():
            self.zero_grad()
            first = not results
            with torch.enable_grad():
                out = self.backward(step, update=first, capture=capture if first else 0)
            results.append(out)
            return out.loss

        return closure, results

    def batch_gradients(self, batches: int) -> list[torch.Tensor]:
        """The reference SNR path: one backward per batch -> one (B, *W.shape) per weight matrix
        (every batch gradient kept: memory B P, for tests and benchmarks)."""
        per_batch = list(self._each_batch_gradient(batches))
        return [torch.stack([g[l] for g in per_batch]) for l in range(len(per_batch[0]))]

    def batch_moments(self, batches: int) -> BatchMoments:
        """The fallback SNR path for fields without derivative streams: one backward per batch,
        each gradient merged into the moments at once (memory P, not B P)."""
        acc = BatchMoments()
        for g in self._each_batch_gradient(batches):
            acc.add([x[None] for x in g])
        return acc

    def _each_batch_gradient(self, batches: int):
        """Yield batch b's gradient (a tuple, one tensor per weight matrix), b = 0..B-1."""
        weights = self.field.model.weight_matrices()
        nb = check_batches(self.n_res, batches)
        for b in range(batches):
            rows = slice(b * nb, (b + 1) * nb)
            loss, _ = self.loss(self.residuals(rows), rows)
            yield torch.autograd.grad(loss, weights)

    def evaluate(self) -> StepResult:
        """The loss at the current parameters and weights, without update or backward."""
        parts = [self.pde.residual(self.field, self.points["res"][rows]).detach()
                 for rows in self.chunks()]
        residuals = {"res": torch.cat(parts), **_detach(self.pde.conditions(self.field, self.points))}
        loss, terms = self.loss(residuals)
        return StepResult(loss.detach(), {k: v.detach() for k, v in terms.items()}, residuals)

    def interior_residuals(self, chunks=None) -> torch.Tensor:
        """Every interior residual, (N,) or (N, q), chunk by chunk (``chunks``: default this
        engine's), each chunk's graph freed at once."""
        return torch.cat([self.pde.residual(self.field, self.points["res"][rows]).detach()
                          for rows in chunks or self.chunks()])


def _detach(d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in d.items()}
