"""``Module``: the base class of every layer and model, with PyTorch's semantics.

A module holds parameters (``Parameter``), buffers (tensors saved in the
``state_dict`` but not trained, such as BatchNorm's running mean) and
submodules, all registered by attribute assignment::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)                      # a submodule
            self.scale = nn.Parameter(deepgrad.ones(2))    # a parameter
            self.register_buffer("steps", deepgrad.zeros(()))

        def forward(self, x):
            return self.fc(x) * self.scale

Names are PyTorch's (``fc.weight``, ``fc.bias``, ``scale``, ``steps``), so a
PyTorch state_dict converts 1:1 through NumPy arrays.

Every module knows its place in the model: when a module is registered into a
parent, it keeps a weak reference to the parent and its name there, so
``module._path`` (e.g. ``'classifier.0'``) and ``module._describe()`` (e.g.
``"Linear 'classifier.0'"``) name it in error messages at no cost to the forward
pass. Saving and loading (``state_dict``) live in ``_state_dict.py``, calling with
forward hooks in ``_hooks.py``.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any, Callable, Iterator

from deepgrad import dtypes
from deepgrad.backend import xp
from deepgrad.nn.modules._hooks import HooksMixin
from deepgrad.nn.modules._state_dict import StateDictMixin
from deepgrad.nn.parameter import Parameter
from deepgrad.tensor import Tensor


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * spaces + line for line in lines)


def _typename(obj: Any) -> str:
    if isinstance(obj, Tensor):
        return f"deepgrad.{type(obj).__name__}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


class Module(HooksMixin, StateDictMixin):
    """Base class of all layers and models (``torch.nn.Module``).

    Subclasses call ``super().__init__()`` first, assign parameters, buffers and
    submodules as attributes, and define ``forward``. Calling the module runs
    the forward pre-hooks, ``forward`` and the forward hooks.
    """

    training: bool
    _version = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}: "
                "Module.__init__ takes none (call super().__init__() without arguments)"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_parents"] = []  # [(weakref to a parent module, name in it)], the latest last

    forward: Callable[..., Any]

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # --- registration ------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter under ``name`` (None registers a missing one, e.g. ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", self._parameters)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(deepgrad.nn.Parameter or None required)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                f"created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method."
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. BatchNorm's ``running_mean``).

        Persistent buffers are saved in ``state_dict``; non-persistent ones are not.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                "(deepgrad Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a submodule under ``name``; it is then reachable as an attribute."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f"module name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._set_module(name, module)

    register_module = add_module

    def _check_name(self, name: Any, kind: str, registry: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\"")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def _set_module(self, name: str, module: Module | None) -> None:
        old = self._modules.get(name)
        if old is not None and old is not module:
            old._unlink(self, name)
        self._modules[name] = module
        if module is not None:
            module._link(self, name)

    def _link(self, parent: Module, name: str) -> None:
        """Remember that ``parent`` holds this module as ``name`` (dead links are dropped)."""
        links = [(ref, n) for ref, n in self.__dict__.get("_parents", ())
                 if ref() is not None and not (ref() is parent and n == name)]
        links.append((weakref.ref(parent), name))
        self.__dict__["_parents"] = links

    def _unlink(self, parent: Module, name: str) -> None:
        self.__dict__["_parents"] = [(ref, n) for ref, n in self.__dict__.get("_parents", ())
                                     if not (ref() is parent and n == name)]

    def _parent_link(self) -> tuple[Module, str] | None:
        """The latest parent that still holds this module, and the name there."""
        for ref, name in reversed(self.__dict__.get("_parents", ())):
            parent = ref()
            if parent is not None and parent._modules.get(name) is self:
                return parent, name
        return None

    # --- its place in the model ----------------------------------------------------
    @property
    def _path(self) -> str:
        """The module's dotted name in the model it sits in ('' for the root), e.g. 'features.3'.

        A module held by several parents (a slice ``model[:2]`` shares its layers)
        is named from the latest one still alive.
        """
        names = []
        module: Module | None = self
        seen = set()
        while module is not None and id(module) not in seen:
            seen.add(id(module))
            link = module._parent_link()
            if link is None:
                break
            module, name = link
            names.append(name)
        return ".".join(reversed(names))

    def _describe(self) -> str:
        """How error messages name this module: its class and, inside a model, its path.

        ``"Linear 'classifier.0'"`` for a layer registered as ``classifier[0]`` of a
        model, ``"Linear"`` for a layer on its own. Layers start their input errors
        with it (see ``_input_error``), so the user sees which layer of the model
        failed.
        """
        path = self._path
        return f"{type(self).__name__} '{path}'" if path else type(self).__name__

    def _input_error(self, shape: Any, problem: str, fix: str | None = None,
                     config: str | None = None) -> RuntimeError:
        """The error a layer raises for a wrong input, ready to ``raise``.

        ``"<Layer 'path'> (<config>) got input of shape <shape>: <problem>; <fix>"``,
        e.g. ``Linear 'classifier.0' (in_features=784) got input of shape
        (128, 1, 28, 28): its last dimension is 28, expected 784; add nn.Flatten()
        before it?``. ``config`` defaults to the module's ``extra_repr()``.
        """
        config = self.extra_repr() if config is None else config
        head = self._describe() + (f" ({config})" if config else "")
        message = f"{head} got input of shape {tuple(shape)}: {problem}"
        if fix:
            message += f"; {fix}"
        return RuntimeError(message)

    # --- attribute access --------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d:
            params = d["_parameters"]
            if name in params:
                return params[name]
        if "_buffers" in d:
            buffers = d["_buffers"]
            if name in buffers:
                return buffers[name]
        if "_modules" in d:
            modules = d["_modules"]
            if name in modules:
                return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__

        def remove_from(*registries: Any) -> None:
            for r in registries:
                if name in r:
                    if isinstance(r, dict):
                        del r[name]
                    else:
                        r.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(deepgrad.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
            self._set_module(name, value)
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' "
                    "(deepgrad.nn.Module or None expected)"
                )
            self._set_module(name, None)
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' "
                    "(deepgrad Tensor or None expected)"
                )
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            module = self._modules.pop(name)
            if module is not None:
                module._unlink(self, name)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(object.__dir__(self)) + list(self._parameters) + list(self._modules) \
            + list(self._buffers)
        return sorted(set(keys))

    # --- copying and pickling ------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_parents"] = []  # weak references: each parent re-links its children
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for key, default in (("_forward_pre_hooks_with_kwargs", set()),
                             ("_forward_hooks_with_kwargs", set()), ("_parents", [])):
            self.__dict__.setdefault(key, default)
        for name, module in self._modules.items():
            if module is not None:
                module._link(self, name)

    # --- walking the tree ------------------------------------------------------------------
    def _named_members(self, get_members: Callable, prefix: str = "", recurse: bool = True,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        memo: set = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, with PyTorch's dotted names (``'fc.weight'``)."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module (and its submodules with ``recurse``), shared once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        memo: set = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module ('' or ``prefix``) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ('' is the module itself)."""
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if item not in module._modules or module._modules[item] is None:
                raise AttributeError(
                    f"{module._get_name()} has no submodule `{item}` (looking up '{target}'); "
                    f"it has: {list(module._modules) or 'none'}"
                )
            module = module._modules[item]
        return module

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(f"{module._get_name()} has no buffer `{name}`")
        return module._buffers[name]

    # --- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) on this module and all below."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for module in self.modules():
            module.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                grad = p.grad
                if grad.grad_fn is not None:
                    grad = p.grad = grad.detach()
                grad.requires_grad = False
                if grad.array.flags.writeable:
                    grad.array[...] = 0
                else:
                    grad.array = xp.zeros_like(grad.array)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # --- dtype and device -------------------------------------------------------------------------
    def _apply(self, fn: Callable[[Any], Any]) -> Module:
        """Replace the array of every parameter, gradient and buffer with ``fn(array)``."""
        for module in self.modules():
            for p in module._parameters.values():
                if p is None:
                    continue
                p.array = fn(p.array)
                if p.grad is not None:
                    p.grad.array = fn(p.grad.array)
            for name, b in module._buffers.items():
                if b is not None:
                    b.array = fn(b.array)
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> Module:
        """``to(dtype)``, ``to('cpu')`` or ``to(tensor)``: casts floating parameters and buffers."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                continue
            elif a is not None:
                dtype = a
        if dtype is None:
            return self
        target = dtypes.to_dtype(dtype)
        if not target.is_floating_point:
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired dtype={target}"
            )
        np_dtype = target.np
        return self._apply(lambda a: a.astype(np_dtype) if a.dtype.kind == "f" and
                           a.dtype != np_dtype else a)

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    def cpu(self) -> Module:
        return self

    def cuda(self, device: Any = None) -> Module:
        return self

    # --- printing ---------------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The module's own settings for its repr, e.g. ``in_features=4, out_features=2, bias=True``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for key, module in self._modules.items():
            child_lines.append("(" + key + "): " + _addindent(repr(module), 2))
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


__all__ = ["Module"]
