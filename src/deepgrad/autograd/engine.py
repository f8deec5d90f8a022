"""The backward pass: the chain rule applied to the recorded graph.

Nodes are ``Context`` objects. Starting from the roots, we order the nodes so
that every node comes after all the nodes that use its outputs (a reverse
post-order of a depth-first search), then walk that order once: each node's
gradient buffer is complete when its turn comes, its ``backward`` turns it into
gradients for its inputs, and those are added into the buffers of the nodes
(or leaf tensors) that produced the inputs.
"""

from __future__ import annotations

from typing import Any, Sequence

from deepgrad.autograd.grad_mode import set_grad_enabled
from deepgrad.backend import xp
from deepgrad.tensor import Tensor


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    targets: Sequence[Any] | None = None,
) -> list | None:
    """Backpropagate from ``roots``.

    Without ``targets`` the gradients of leaf tensors accumulate into their
    ``.grad`` (``Tensor.backward``). With ``targets`` nothing is accumulated and
    the gradient of each target is returned, None where it is unreachable
    (``autograd.grad``).
    """
    previous = set_grad_enabled(create_graph)
    try:
        return _run(roots, root_grads, retain_graph, create_graph, targets)
    finally:
        set_grad_enabled(previous)


def _run(roots, root_grads, retain_graph, create_graph, targets):
    leaf_grads: dict[int, list] = {}  # id(tensor) -> [tensor, grad]
    buffers: dict[Any, list] = {}
    root_nodes = []
    for position, (t, g) in enumerate(zip(roots, root_grads)):
        if t.grad_fn is None:
            if not t.requires_grad:
                raise RuntimeError(
                    f"backward: element {position} of the tensors does not require grad and has "
                    "no grad_fn. Create the leaf with requires_grad=True (or call "
                    ".requires_grad_()) and make sure no_grad() is not active."
                )
            _add_to_leaf(leaf_grads, t, g)
        else:
            _add_to_buffer(buffers, t.grad_fn, t._output_index, g)
            root_nodes.append(t.grad_fn)

    order = _topological_order(root_nodes)

    captured: dict[Any, Any] = {}
    needed = None
    if targets is not None:
        leaf_targets = {id(t) for t in targets if t.grad_fn is None}
        node_targets = {(t.grad_fn, t._output_index) for t in targets if t.grad_fn is not None}
        needed = _needed_nodes(order, leaf_targets, node_targets)

    for node in reversed(order):
        buffer = buffers.pop(node, None)
        if buffer is None:
            continue
        hooks = node.__dict__.get("_tensor_hooks")
        if hooks:
            _run_node_hooks(node, buffer, hooks)
        if targets is not None:
            for index, g in enumerate(buffer):
                if (node, index) in node_targets:
                    captured[(node, index)] = g
            if node not in needed:
                continue
        _backward_node(node, buffer, buffers, leaf_grads)
        if not retain_graph:
            node._release()

    if targets is not None:
        result = []
        for t in targets:
            if t.grad_fn is None:
                entry = leaf_grads.get(id(t))
                result.append(None if entry is None else _apply_leaf_hooks(t, entry[1]))
            else:
                result.append(captured.get((t.grad_fn, t._output_index)))
        return result

    # The caller's gradient arrays are never handed out as a .grad (nor one array twice).
    taken = {id(_owner(g.array)) for g in root_grads}
    for t, g in leaf_grads.values():
        _accumulate(t, _apply_leaf_hooks(t, g), taken, create_graph)
    return None


def _owner(array: Any) -> Any:
    return array if array.base is None else array.base


def _accumulate(t: Tensor, g: Tensor, taken: set, create_graph: bool) -> None:
    """``t.grad += g`` as PyTorch's AccumulateGrad does it: in place unless create_graph, and a
    new ``.grad`` owns its storage, so ``p.grad.mul_(c)`` (gradient clipping) changes one
    gradient only, even where backward gave two leaves the same tensor (``a + b``)."""
    old = t.grad
    if old is None:
        owner = id(_owner(g.array))
        if not g.array.flags.writeable or owner in taken:  # a broadcast view, or shared
            g = g.clone() if g.requires_grad else Tensor(g.array.copy())
            owner = id(g.array)
        taken.add(owner)
        t.grad = g
    elif (not create_graph and not old.requires_grad and old.shape == g.shape
          and old.array.dtype == g.array.dtype and old.array.flags.writeable):
        xp.add(old.array, g.array, out=old.array)
        old._version[0] += 1
    else:
        t.grad = old + g


def _backward_node(node, buffer, buffers, leaf_grads) -> None:
    if len(buffer) > 1 and node.materialize_grads:  # one output always has its gradient
        for i, g in enumerate(buffer):
            if g is None and node.output_meta[i] is not None:
                shape, dtype = node.output_meta[i]
                buffer[i] = Tensor(xp.zeros(shape, dtype=dtype))
    grads = node._fn.backward(node, *buffer)
    if not isinstance(grads, tuple):
        grads = (grads,)
    edges = node.next_edges
    if len(grads) < len(edges):
        raise RuntimeError(
            f"{node.name()} returned {len(grads)} gradients, but forward took {len(edges)} "
            "arguments: return one gradient (or None) per forward argument"
        )
    for position, (edge, g) in enumerate(zip(edges, grads)):
        if edge is None or g is None:
            continue
        target, index = edge
        expected = target.shape if index is None else target.output_meta[index][0]
        if g.shape != expected:
            raise RuntimeError(
                f"{node.name()} returned a gradient of shape {tuple(g.shape)} for argument "
                f"{position}, whose shape is {tuple(expected)}"
            )
        if index is None:
            _add_to_leaf(leaf_grads, target, g)
        else:
            _add_to_buffer(buffers, target, index, g)


def _add_to_buffer(buffers, node, index, g) -> None:
    buffer = buffers.get(node)
    if buffer is None:
        buffer = buffers[node] = [None] * len(node.output_meta)
    buffer[index] = g if buffer[index] is None else buffer[index] + g


def _add_to_leaf(leaf_grads, t, g) -> None:
    if g.array.dtype != t.array.dtype:
        g = g.to(t.dtype)
    entry = leaf_grads.get(id(t))
    if entry is None:
        leaf_grads[id(t)] = [t, g]
    else:
        entry[1] = entry[1] + g


def _apply_leaf_hooks(t, g):
    for hook in t._hooks or ():
        replaced = hook(g)
        if replaced is not None:
            g = replaced
    return g


def _run_node_hooks(node, buffer, hooks) -> None:
    for index, fns in hooks.items():
        if buffer[index] is None:
            continue
        for hook in list(fns):
            replaced = hook(buffer[index])
            if replaced is not None:
                buffer[index] = replaced


def _topological_order(root_nodes: list) -> list:
    """Nodes in DFS post-order: every node after all the nodes it sends gradients to."""
    order: list = []
    seen: set = set()
    for root in root_nodes:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if edge is not None and edge[1] is not None and edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append((edge[0], iter(edge[0].next_edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _needed_nodes(order: list, leaf_targets: set, node_targets: set) -> set:
    """Nodes whose backward leads to a target; the rest need not run."""
    needed: set = set()
    for node in order:  # post-order: a node's inputs are decided before it
        for edge in node.next_edges:
            if edge is None:
                continue
            target, index = edge
            if index is None:
                hit = id(target) in leaf_targets
            else:
                hit = target in needed or (target, index) in node_targets
            if hit:
                needed.add(node)
                break
    return needed
