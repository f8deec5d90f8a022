"""Custom ``deepgrad.autograd.Function``s in PyTorch style, and gradcheck / gradgradcheck
catching wrong first and second derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import Function, gradcheck, gradgradcheck
from deepgrad.autograd.gradcheck import GradcheckError

from helpers import to_numpy


def t64(values, requires_grad=True):
    return dg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, **kw):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-10, atol=1e-12, **kw)


# --- custom Functions ---------------------------------------------------------------------
class Cube(Function):
    """x^3 written with tensor ops in forward, as a user would."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class ScaledMul(Function):
    """a * b * scale, with a Python number argument that gets no gradient."""

    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        ctx.seen_needs = ctx.needs_input_grad
        return a * b * scale

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b, _ = ctx.needs_input_grad
        ScaledMul.last_needs = ctx.needs_input_grad
        return (grad * b * ctx.scale if need_a else None,
                grad * a * ctx.scale if need_b else None,
                None)


class SortedWithOrder(Function):
    """Returns (x doubled, a float 'rank' output marked non-differentiable)."""

    @staticmethod
    def forward(ctx, x):
        rank = dg.Tensor(np.argsort(np.argsort(x.array)).astype(x.array.dtype))
        ctx.mark_non_differentiable(rank)
        return x * 2, rank

    @staticmethod
    def backward(ctx, grad, grad_rank):
        return grad * 2


def test_custom_function_forward_backward():
    xv = np.array([0.5, -1.0, 2.0])
    x = t64(xv)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    close(y, xv ** 3)
    y.sum().backward()
    close(x.grad, 3 * xv ** 2)


def test_custom_function_passes_gradcheck_and_gradgradcheck():
    x = t64(np.random.default_rng(0).uniform(-2, 2, (2, 3)))
    assert gradcheck(Cube.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))
    a, b = t64([0.5, 1.5]), t64([2.0, -1.0])
    assert gradcheck(lambda a, b: ScaledMul.apply(a, b, 0.5), (a, b))


def test_custom_function_needs_input_grad_and_non_tensor_args():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0], requires_grad=False)
    out = ScaledMul.apply(a, b, 2.0)
    out.sum().backward()
    assert ScaledMul.last_needs == (True, False, False)
    close(a.grad, [6.0, 8.0])
    assert b.grad is None


def test_custom_function_forward_records_no_graph_inside():
    x = t64([1.0, 2.0])
    y = Cube.apply(x)
    # the forward's own x*x*x must not appear as nodes: Cube is the only one
    assert [n for n, _ in y.grad_fn.next_functions] == [x]


def test_custom_function_without_grad_is_a_constant():
    x = t64([1.0, 2.0], requires_grad=False)
    y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    with dg.no_grad():
        z = Cube.apply(t64([1.0]))
    assert z.grad_fn is None


def test_mark_non_differentiable():
    x = t64([3.0, 1.0, 2.0])
    doubled, rank = SortedWithOrder.apply(x)
    assert doubled.requires_grad and not rank.requires_grad
    assert to_numpy(rank).tolist() == [2.0, 0.0, 1.0]
    (doubled.sum() + rank.sum()).backward()
    close(x.grad, [2.0, 2.0, 2.0])


def test_custom_function_returning_wrong_number_of_gradients_is_reported():
    class Broken(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad  # one gradient for two arguments

    a, b = t64([1.0]), t64([2.0])
    with pytest.raises(RuntimeError, match="BrokenBackward.*2 arguments"):
        Broken.apply(a, b).sum().backward()


def test_custom_function_returning_wrong_gradient_shape_is_reported():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad  # should be expanded to a's shape

    a = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"WrongShapeBackward.*shape \(\).*\(2,\)"):
        WrongShape.apply(a).backward()


# --- gradcheck ----------------------------------------------------------------------------
class WrongExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.exp(x.array)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * 1.1  # deliberately 10% off


class ConstantDerivativeCube(Function):
    """Right first derivative, but computed as a constant: double backward is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        slope = dg.Tensor(3 * x.array ** 2)  # cut from the graph
        return grad * slope


def test_gradcheck_catches_a_wrong_backward():
    x = t64([0.1, 0.5, -0.3])
    assert gradcheck(WrongExp.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongExp.apply, (x,))
    assert issubclass(GradcheckError, RuntimeError)


def test_gradcheck_passes_a_correct_composite():
    x = t64(np.random.default_rng(1).uniform(-1, 1, (3, 2)))
    w = t64(np.random.default_rng(2).uniform(-1, 1, (2,)))
    assert gradcheck(lambda x, w: ((x * w).exp() / (1 + x * x)).sum(dim=0), (x, w))


def test_gradcheck_needs_float64():
    x = dg.tensor([1.0, 2.0], requires_grad=True)  # float32
    with pytest.raises(ValueError, match="float64"):
        gradcheck(Cube.apply, (x,))


def test_gradgradcheck_catches_a_constant_first_derivative():
    x = t64([0.4, -0.8, 1.2])
    assert gradcheck(ConstantDerivativeCube.apply, (x,))  # first order is right
    assert gradgradcheck(ConstantDerivativeCube.apply, (x,), raise_exception=False) is False
    assert gradgradcheck(Cube.apply, (x,))
