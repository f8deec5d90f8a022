"""Check analytical gradients against finite differences, as ``torch.autograd.gradcheck``.

The Jacobian of ``func`` is built twice: column by column from central
differences of the forward pass, and row by row from backward passes with
one-hot output gradients. Use float64 inputs: in float32 the differences are
too noisy to be a test.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from deepgrad.backend import xp
from deepgrad.tensor import Tensor


class GradcheckError(RuntimeError):
    """The analytical and numerical Jacobians differ."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _differentiable(outputs: tuple) -> list:
    return [o for o in outputs if isinstance(o, Tensor) and o.array.dtype.kind == "f"]


def _numerical_jacobians(func: Callable, inputs: tuple, wrt: list, eps: float) -> list:
    """One matrix per input, indexed [input element, output element]."""
    reference = _differentiable(_as_tuple(func(*inputs)))
    n_out = sum(o.array.size for o in reference)
    jacobians = []
    for t in wrt:
        flat = t.array.reshape(-1) if t.array.flags.c_contiguous else None
        if flat is None:
            raise ValueError("gradcheck: inputs must be contiguous arrays")
        jac = xp.zeros((t.array.size, n_out), dtype=xp.float64)
        for k in range(t.array.size):
            original = flat[k].item()
            flat[k] = original + eps
            plus = _evaluate(func, inputs)
            flat[k] = original - eps
            minus = _evaluate(func, inputs)
            flat[k] = original
            jac[k] = xp.concatenate([((p - m) / (2 * eps)).reshape(-1) for p, m in zip(plus, minus)])
        jacobians.append(jac)
    return jacobians


def _evaluate(func: Callable, inputs: tuple) -> list:
    """Copies of the outputs' values (an output may be a view of the perturbed input).

    Grad mode stays on: ``func`` may itself take gradients (gradgradcheck)."""
    return [o.array.copy() for o in _differentiable(_as_tuple(func(*inputs)))]


def _analytical_jacobians(func: Callable, inputs: tuple, wrt: list) -> list:
    from deepgrad.autograd import grad
    all_outputs = _differentiable(_as_tuple(func(*inputs)))
    n_out = sum(o.array.size for o in all_outputs)
    jacobians = [xp.zeros((t.array.size, n_out), dtype=xp.float64) for t in wrt]
    column = 0
    for out in all_outputs:
        if not out.requires_grad:
            column += out.array.size
            continue
        for j in range(out.array.size):
            seed = xp.zeros(out.array.size, dtype=out.array.dtype)
            seed[j] = 1
            grads = grad(out, wrt, Tensor(seed.reshape(out.shape)), retain_graph=True, allow_unused=True)
            for jac, g in zip(jacobians, grads):
                if g is not None:
                    jac[:, column] = g.array.reshape(-1)
            column += 1
    return jacobians


def gradcheck(
    func: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """True when backward agrees with finite differences for every input that requires grad."""
    inputs = _as_tuple(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in wrt:
        if t.array.dtype != xp.float64:
            raise ValueError(
                f"gradcheck: inputs that require grad must be float64 (got {t.dtype}): "
                "finite differences in lower precision are too noisy to check anything"
            )
    analytical = _analytical_jacobians(func, inputs, wrt)
    numerical = _numerical_jacobians(func, inputs, wrt, eps)
    for i, (a, n) in enumerate(zip(analytical, numerical)):
        if not xp.allclose(a, n, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            worst = float(xp.abs(a - n).max())
            raise GradcheckError(
                f"gradcheck: Jacobian mismatch for input {i} of shape {tuple(wrt[i].shape)} "
                f"(largest difference {worst:.3g}).\nanalytical:\n{a}\nnumerical:\n{n}"
            )
    return True


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Any] | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """gradcheck of the gradient itself: checks backward of backward (``create_graph=True``)."""
    from deepgrad.autograd import grad
    inputs = _as_tuple(inputs)
    wrt_positions = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if grad_outputs is None:
        rng = xp.random.default_rng(seed)
        outs = [o for o in _differentiable(_as_tuple(func(*inputs))) if o.requires_grad]
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    grad_outputs = list(grad_outputs)
    n_inputs = len(inputs)

    def first_derivative(*args: Any) -> tuple:
        inps, gos = args[:n_inputs], args[n_inputs:]
        outs = [o for o in _differentiable(_as_tuple(func(*inps))) if o.requires_grad]
        wrt = [inps[i] for i in wrt_positions]
        grads = grad(outs, wrt, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None and g.requires_grad)

    return gradcheck(
        first_derivative, inputs + tuple(grad_outputs),
        eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
    )
