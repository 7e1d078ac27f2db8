"""L-BFGS (Nocedal, 1980, "Updating Quasi-Newton Matrices with Limited Storage"; Liu & Nocedal, 1989), as
``torch.optim.LBFGS``: a limited-memory quasi-Newton method over all parameters flattened into one vector,
optionally with a strong-Wolfe line search (Nocedal & Wright, "Numerical Optimization", algorithms 3.5
and 3.6, with cubic interpolation as in minFunc).

Its state lives under the first parameter, with PyTorch's keys: ``func_evals``, ``n_iter``, the last
direction ``d`` and step ``t``, the curvature pairs ``old_dirs`` (gradient changes) and ``old_stps``
(steps), their ``ro = 1 / (y . s)``, ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``.
"""
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.versions import bump_version
from ..backend import array_module
from ..tensor import Tensor
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _value(x):
    """A Python number from a float, an int or a one-element Tensor/array."""
    if isinstance(x, Tensor):
        return float(x.item())
    return x if isinstance(x, (int, float)) else float(x)


def _wrap(a):
    return None if a is None else Tensor._wrap(a)


def _arrays(ts):
    return [t._data for t in ts]


class LBFGS(Optimizer):
    """L-BFGS. ``step(closure)`` needs a closure that clears the gradients, evaluates the loss, calls
    ``backward`` and returns the loss; it may run the closure several times per step.

    Args:
        params: tensors to optimize (one group only).
        lr: learning rate (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: function evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is at most this (default 1e-7).
        tolerance_change: stop when the loss or the parameters change less than this (default 1e-9).
        history_size: number of curvature pairs kept (default 100).
        line_search_fn: None (fixed step ``lr``) or ``"strong_wolfe"``.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None, *, maximize=False):
        F.check_number("learning rate", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn, maximize=maximize)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if getattr(self, "param_groups", None):
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------------ the flat view of the parameters
    def _flat_grad(self):
        xp = array_module(self._params[0]._data)
        parts = [xp.zeros(p._data.size, p._data.dtype) if p.grad is None else p.grad._data.reshape(-1)
                 for p in self._params]
        flat = xp.concatenate(parts)
        if self.param_groups[0]["maximize"]:
            xp.negative(flat, out=flat)
        return flat

    def _add_to_params(self, t, d):
        """``p += t * d`` over the flat direction ``d``."""
        offset = 0
        for p in self._params:
            data = F.writable(p)
            n = data.size
            data += d[offset:offset + n].reshape(data.shape) * t
            offset += n
            bump_version(p)

    def _set_params(self, saved):
        for p, a in zip(self._params, saved):
            F.writable(p)[...] = a
            bump_version(p)

    def _evaluate(self, closure):
        """Run the closure with grad enabled; the loss as a Python float (negated when maximizing)."""
        with enable_grad():
            loss = closure()
        loss = _value(loss)
        return -loss if self.param_groups[0]["maximize"] else loss

    def _directional_evaluate(self, closure, x, t, d):
        self._add_to_params(t, d)
        loss = self._evaluate(closure)
        flat = self._flat_grad()
        self._set_params(x)
        return loss, flat

    # ------------------------------------------------------------------ the step
    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss of the first closure call."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and returns the loss: "
                               "opt.step(closure)")
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr = F.as_float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = _value(orig_loss)
        if group["maximize"]:
            loss = -loss
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        xp = array_module(flat_grad)
        if float(xp.abs(flat_grad).max()) <= tol_grad:
            return orig_loss

        d = None if state.get("d") is None else state["d"]._data
        t = _value(state["t"]) if state.get("t") is not None else None
        old_dirs = _arrays(state.get("old_dirs") or [])
        old_stps = _arrays(state.get("old_stps") or [])
        ro = [_value(r) for r in state.get("ro") or []]
        H_diag = _value(state["H_diag"]) if state.get("H_diag") is not None else None
        prev_flat_grad = None if state.get("prev_flat_grad") is None else state["prev_flat_grad"]._data
        prev_loss = state.get("prev_loss")
        al = [None if a is None else _value(a) for a in state.get("al") or []]

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                d, H_diag = self._direction(flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, al,
                                            H_diag, history_size)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:  # not a descent direction
                break

            ls_func_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x_init = [p._data.copy() for p in self._params]

                def obj_func(x, step, direction):
                    return self._directional_evaluate(closure, x, step, direction)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = float(xp.abs(flat_grad).max()) <= tol_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    opt_cond = float(xp.abs(flat_grad).max()) <= tol_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(xp.abs(d * t).max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state["d"] = _wrap(d)
        state["t"] = t
        state["old_dirs"] = [Tensor._wrap(a) for a in old_dirs]
        state["old_stps"] = [Tensor._wrap(a) for a in old_stps]
        state["ro"] = [_scalar_tensor(r, flat_grad) for r in ro]
        state["H_diag"] = H_diag if isinstance(H_diag, int) else _scalar_tensor(H_diag, flat_grad)
        state["prev_flat_grad"] = _wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if al:
            state["al"] = [None if a is None else _scalar_tensor(a, flat_grad) for a in al]
        return orig_loss

    @staticmethod
    def _direction(flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, al, H_diag, history_size):
        """The two-loop recursion: update the curvature pairs with the last step, then return
        ``-H g`` for the current gradient ``g`` (and the new diagonal scale of ``H``)."""
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = float(y @ s)
        if ys > 1e-10:  # keep the pair only when the curvature condition holds
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            H_diag = ys / float(y @ y)
        if len(al) < history_size:
            al.extend([None] * (history_size - len(al)))
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = float(old_stps[i] @ q) * ro[i]
            q -= old_dirs[i] * al[i]
        r = q * H_diag
        for i in range(len(old_dirs)):
            be_i = float(old_dirs[i] @ r) * ro[i]
            r += old_stps[i] * (al[i] - be_i)
        return r, H_diag


def _scalar_tensor(value, like):
    """A 0-d tensor of ``like``'s dtype holding ``value`` (PyTorch keeps these as 0-d tensors)."""
    return Tensor._wrap(array_module(like).asarray(value, dtype=like.dtype))


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1``, ``g2``, clamped to
    ``bounds`` (default: the interval); the interval's midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = d2_square**0.5
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along ``d`` from the parameters ``x`` for a step satisfying the strong Wolfe conditions
    (sufficient decrease ``c1``, curvature ``c2``): first bracket a good step, then zoom in.

    Returns ``(loss, flat_grad, t, evaluations)`` at the chosen step."""
    xp = array_module(d)
    d_norm = float(xp.abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = float(g_new @ d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:  # bracketing phase
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate within [t + 0.01 (t - t_prev), 10 t]
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(lo, hi))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # zoom phase
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1],
                               bracket_gtd[1])
        # keep t away from the bracket's ends unless the last attempt already made progress
        b_min, b_max = min(bracket), max(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insuf_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals
