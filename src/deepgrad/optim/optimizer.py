"""``Optimizer``: the base class of every optimizer, with PyTorch's interface.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus that
group's hyperparameters, which schedules and users may change between steps)
and ``state`` (a dict keyed by parameter: ``exp_avg``, ``step`` ...). ``step``
updates the parameters in place from their ``.grad``; ``state_dict`` /
``load_state_dict`` save and restore all of it in PyTorch's format (state keyed
by integer index, groups listing parameter indices), so training resumes
exactly.

How an update is written: on the backend arrays (``p.array``), never through
autograd, with ufuncs writing into the parameter, the state or a reusable
scratch buffer (``out=``), so a step allocates nothing per parameter and calls
the backend a small fixed number of times. After ``p.array`` changes in place
its version counter is bumped (``bump_version``), as for any in-place op.
Scalars are passed as Python floats, which NumPy applies in the array's dtype:
float32 parameters stay float32, as in PyTorch.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections import defaultdict
from itertools import chain
from typing import Any, Callable, Iterable

from deepgrad import dtypes
from deepgrad.autograd.grad_mode import enable_grad
from deepgrad.backend import ndarray, xp
from deepgrad.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of a hyperparameter that each group must give."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def bump_version(t: Tensor) -> None:
    """Record that ``t.array`` was changed in place (the in-place version counter)."""
    t._version[0] += 1


def scalar_dtype() -> Any:
    """The dtype of ``state['step']``: float64 when that is the default dtype, else float32 (PyTorch's rule)."""
    return xp.float64 if dtypes.get_default_dtype() == dtypes.float64 else xp.float32


def step_tensor(value: float = 0.0) -> Tensor:
    """A fresh 0-d step counter, as PyTorch keeps it."""
    return Tensor(xp.asarray(value, dtype=scalar_dtype()))


def zeros_state(p: Tensor) -> Tensor:
    return Tensor(xp.zeros_like(p.array))


def lerp_(start: Any, end: Any, weight: float, scratch: Any) -> None:
    """``start += weight * (end - start)`` in place: PyTorch's ``lerp_`` (its two forms, by |weight|)."""
    xp.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1.0 - weight
        xp.subtract(end, scratch, out=start)


def moments_(exp_avg: Any, exp_avg_sq: Any, grad: Any, beta1: float, beta2: float,
             scratch: Any) -> None:
    """Adam's two running moments, in place: ``exp_avg`` <- lerp(exp_avg, grad, 1 - beta1),
    ``exp_avg_sq`` <- beta2 exp_avg_sq + (1 - beta2) grad^2 (Adam, NAdam, RAdam)."""
    lerp_(exp_avg, grad, 1.0 - beta1, scratch)
    exp_avg_sq *= beta2
    xp.multiply(grad, 1.0 - beta2, out=scratch)
    scratch *= grad
    exp_avg_sq += scratch


# Elementwise updates of several passes go over a parameter in chunks of this many values,
# so that each pass finds the chunk in cache instead of streaming whole tensors from
# memory (Adam on the 535k-value MLP: 1.77 -> 1.20 ms a step).
_CHUNK = 65536


def in_chunks(*arrays: Any) -> Iterable[tuple]:
    """Matching flat slices of same-shape ``arrays``, in cache-sized chunks (the arrays
    themselves, in one piece, when they are small or not all C-contiguous)."""
    n = arrays[0].size
    if n <= _CHUNK or not all(a.flags.c_contiguous for a in arrays):
        yield arrays
        return
    flats = [a.reshape(-1) for a in arrays]
    for start in range(0, n, _CHUNK):
        yield tuple(f[start:start + _CHUNK] for f in flats)


def _count_steps(step: Callable) -> Callable:
    """Mark the optimizer as stepped (what schedules check to warn about the call order)."""

    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        self._opt_called = True
        return step(self, *args, **kwargs)

    return wrapper


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Tensor) else value


class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer``).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts
            each holding ``"params"`` and per-group hyperparameters that
            override ``defaults``.
        defaults: the default hyperparameters of every group.

    A subclass implements ``_update_group(group)`` (one step for the tensors of
    one group that have a gradient) and may implement ``_check_group(group)``
    to validate hyperparameters; ``step`` and everything else come from here.
    A subclass may also override ``step`` itself, as in PyTorch.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._opt_called = False
        self._workspace: dict[Any, Any] = {}
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a single Tensor; "
                "pass [tensor] or model.parameters()"
            )
        if isinstance(params, (set, frozenset)):
            raise self._unordered()
        if isinstance(params, dict):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got one dict; "
                "wrap it in a list: [{'params': ...}]"
            )
        self._check_group({k: v for k, v in defaults.items() if v is not required})
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(
                f"{name}: got an empty parameter list; pass the tensors to optimize "
                "(e.g. model.parameters()), and check that the model has parameters"
            )
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _count_steps(cls.__dict__["step"])  # type: ignore[method-assign]

    # --- hyperparameters --------------------------------------------------
    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError for invalid hyperparameters (keys absent from ``group`` are skipped)."""

    def _invalid(self, arg: str, value: Any, expected: str) -> ValueError:
        return ValueError(f"{type(self).__name__}: invalid {arg}={value!r}; expected {expected}")

    def _check_range(self, group: dict[str, Any], arg: str, low: float, high: float | None = None,
                     high_open: bool = True) -> None:
        """``low <= group[arg]`` (and ``< high`` or ``<= high``), NaN refused."""
        if arg not in group:
            return
        value = _number(group[arg])
        ok = low <= value
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
        if not ok:
            if high is None:
                expected = f"{arg} >= {low}"
            else:
                expected = f"{low} <= {arg} {'<' if high_open else '<='} {high}"
            raise self._invalid(arg, group[arg], expected)

    def _check_betas(self, group: dict[str, Any]) -> None:
        if "betas" not in group:
            return
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise self._invalid("betas", betas, "a pair (beta1, beta2), e.g. (0.9, 0.999)")
        for i, beta in enumerate(betas):
            if not 0.0 <= _number(beta) < 1.0:
                raise ValueError(
                    f"{type(self).__name__}: invalid betas[{i}]={beta!r} in betas={tuple(betas)!r}; "
                    "expected 0 <= beta < 1"
                )

    def _unordered(self) -> TypeError:
        return TypeError(
            f"{type(self).__name__}: parameters must be in an ordered collection (the order of a "
            "set changes between runs, so state_dict could not be matched); use a list"
        )

    # --- groups -----------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with hyperparameters that override the defaults.

        Useful for fine-tuning: unfreeze layers and add them to the optimizer as
        training goes. A tensor may belong to one group only.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        param_group = dict(param_group)
        params = param_group.get("params")
        if params is None:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise self._unordered()
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                p = p[1]
            tensors.append(p)
        if names and len(names) != len(tensors):
            raise ValueError(f"{name}: either all parameters have names or none does")
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name} can only optimize Tensors, but one of the params is a {type(p).__name__}"
                )
            if p.grad_fn is not None:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (it was computed by "
                    f"{p.grad_fn!r}); optimize the leaf tensors it was computed from"
                )
        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names
        for key, default in self.defaults.items():
            if default is required and key not in param_group:
                raise ValueError(
                    f"{name}: parameter group didn't specify a value of required optimization "
                    f"parameter {key}"
                )
            param_group.setdefault(key, default)
        self._check_group(param_group)

        if len(set(tensors)) != len(tensors):
            warnings.warn(
                f"{name}: a parameter group contains the same tensor more than once; "
                "it would be updated twice per step",
                stacklevel=2,
            )
        new = set(tensors)
        for i, group in enumerate(self.param_groups):
            if ("param_names" in group) != ("param_names" in param_group):
                raise ValueError(f"{name}: all param groups should be with names or all without")
            shared = [p for p in group["params"] if p in new]
            if shared:
                raise ValueError(
                    f"{name}: some parameters appear in more than one parameter group: a tensor "
                    f"of shape {tuple(shared[0].shape)} is already in param_groups[{i}]; "
                    "put each tensor in one group only"
                )
        self.param_groups.append(param_group)

    # --- the step ---------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (the default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g.grad_fn = None
                    g.requires_grad = False
                    g.array.fill(0)
                    bump_version(g)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One optimization step; ``closure`` (optional) re-evaluates the loss and returns it."""
        self._opt_called = True
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement its update")

    def _params_with_grad(self, group: dict[str, Any]) -> Iterable[Tensor]:
        return (p for p in group["params"] if p.grad is not None)

    def _scratch(self, like: Any, count: int) -> list[Any]:
        """``count`` scratch arrays shaped like ``like``: views of one workspace reused by every step."""
        key = like.dtype
        n = like.size
        work = self._workspace.get(key)
        if work is None or work.shape[0] < count or work.shape[1] < n:
            rows = count if work is None else max(count, work.shape[0])
            cols = n if work is None else max(n, work.shape[1])
            work = xp.empty((rows, cols), dtype=key)
            self._workspace[key] = work
        return [work[i, :n].reshape(like.shape) for i in range(count)]

    def _grad(self, p: Tensor, scratch: Any, weight_decay: float, maximize: bool) -> Any:
        """The gradient array with ``maximize`` and L2 ``weight_decay`` applied (in ``scratch`` if changed)."""
        g = p.grad.array
        if weight_decay != 0:
            xp.multiply(p.array, weight_decay, out=scratch)
            if maximize:
                scratch -= g
            else:
                scratch += g
            return scratch
        if maximize:
            return xp.negative(g, out=scratch)
        return g

    # --- saving and loading -----------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's format.

        ``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index, ...]}]}``,
        indices numbering the parameters in group order. The state tensors are
        the optimizer's own (as in PyTorch); ``load_state_dict`` copies them.
        """
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {
            (mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state saved by ``state_dict`` (of an optimizer over same-shaped parameters).

        State tensors are copied, floating ones cast to their parameter's dtype
        (``step`` keeps its own); each group's hyperparameters are replaced by
        the saved ones, and keys missing from an older save take the defaults.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                "(what state_dict() returns)"
            )
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state dict has {len(saved_groups)} parameter "
                f"groups, the optimizer has {len(groups)}"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: loaded state dict contains a parameter group "
                    f"that doesn't match the size of optimizer's group: param_groups[{i}] has "
                    f"{len(s['params'])} parameters saved and {len(g['params'])} here"
                )
        id_map = dict(
            zip(chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups))
        )
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {key: _cast(param, value, key) for key, value in v.items()}
            else:
                state[k] = copy.deepcopy(v)
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            for key, default in self.defaults.items():
                s.setdefault(key, default)
        self.state = state
        self.param_groups = saved_groups

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_workspace", {})
        self.__dict__.setdefault("_opt_called", False)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _cast(param: Tensor, value: Any, key: str) -> Any:
    """A loaded state value as this optimizer keeps it: a copied tensor in the parameter's dtype."""
    if isinstance(value, Tensor):
        array = value.array
    elif isinstance(value, ndarray) or (hasattr(value, "__array__") and not isinstance(value, (int, float))):
        array = xp.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    elif key == "step" and isinstance(value, (int, float)):
        return step_tensor(float(value))
    else:
        return copy.deepcopy(value)
    if key != "step" and array.dtype.kind == "f" and param.array.dtype.kind == "f":
        return Tensor(array.astype(param.array.dtype, copy=True))
    return Tensor(array.copy())
