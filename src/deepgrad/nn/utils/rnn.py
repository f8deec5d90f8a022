"""Variable-length batches for the recurrent layers (``torch.nn.utils.rnn``).

A ``PackedSequence`` holds a batch of sequences of different lengths without
padding: ``data`` has the sequences' elements time step after time step
(step t holds ``batch_sizes[t]`` rows, one per sequence still running), the
sequences sorted by decreasing length. ``sorted_indices`` / ``unsorted_indices``
remember the original order when the batch was not sorted. The recurrent layers
take and return it as PyTorch's do, running each sequence for exactly its length.

Packing and unpacking are one gather each (``index_select`` with an index built
on the host), so gradients flow through them.

    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    output, h_n = gru(packed)
    padded_out, lengths = pad_packed_sequence(output, batch_first=True)
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

from deepgrad.backend import xp
from deepgrad.tensor import Tensor

_PackedSequenceBase = namedtuple(
    "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


def _int_tensor(values: Any) -> Tensor:
    return Tensor(xp.asarray(values, dtype=xp.int64))


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    perm = permutation.array
    out = xp.empty_like(perm)
    out[perm] = xp.arange(perm.shape[0], dtype=perm.dtype)
    return Tensor(out)


class PackedSequence(_PackedSequenceBase):
    """A packed batch of variable-length sequences (``torch.nn.utils.rnn.PackedSequence``).

    Build it with ``pack_padded_sequence`` or ``pack_sequence``, not by hand.

    Fields:
        data (sum of lengths, *): the elements, time step by time step.
        batch_sizes (T,): int64, the number of sequences running at each step.
        sorted_indices, unsorted_indices (B,): int64 permutations, or None when the
        batch was packed already sorted.
    """

    def __new__(cls, data: Tensor, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> PackedSequence:
        if batch_sizes is None:
            raise ValueError(
                "PackedSequence: batch_sizes is required; build packed sequences with "
                "pack_padded_sequence() or pack_sequence()"
            )
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _int_tensor(batch_sizes)
        if sorted_indices is not None and not isinstance(sorted_indices, Tensor):
            sorted_indices = _int_tensor(sorted_indices)
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        elif not isinstance(unsorted_indices, Tensor):
            unsorted_indices = _int_tensor(unsorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data: Tensor) -> PackedSequence:
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The same packing with ``data.to(...)`` (dtype or device)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._with_data(data)

    def float(self) -> PackedSequence:
        return self._with_data(self.data.float())

    def double(self) -> PackedSequence:
        return self._with_data(self.data.double())

    def cpu(self) -> PackedSequence:
        return self

    @property
    def is_cuda(self) -> bool:
        return self.data.device != "cpu"

    def is_pinned(self) -> bool:
        return False


def _lengths_array(op: str, lengths: Any, batch: int) -> Any:
    values = xp.asarray(lengths.array if isinstance(lengths, Tensor) else lengths)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(
            f"{op}: lengths must be a 1-d list or int64 tensor of sequence lengths, got "
            f"{values.dtype} values of shape {values.shape}"
        )
    if values.shape[0] != batch:
        raise ValueError(
            f"{op}: got {values.shape[0]} lengths for a batch of {batch} sequences; pass one "
            "length per sequence"
        )
    if batch and values.min() <= 0:
        raise RuntimeError(
            f"{op}: every length must be at least 1, got {values.tolist()}; drop empty "
            "sequences before packing"
        )
    return values.astype(xp.int64)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch of sequences of the given lengths.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; with
    False the batch is sorted here and ``sorted_indices`` remembers the order.

    Shape:
        input (T, B, *) or, with ``batch_first``, (B, T, *); lengths (B,) ->
        PackedSequence with data (sum(lengths), *)
    """
    if not isinstance(input, Tensor) or input.ndim < 2:
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(
            f"pack_padded_sequence: input must be a tensor of at least 2 dimensions "
            f"({'(B, T, *)' if batch_first else '(T, B, *)'}), got {shape}"
        )
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lens = _lengths_array("pack_padded_sequence", lengths, batch)
    if enforce_sorted:
        if xp.any(lens[:-1] < lens[1:]):
            raise RuntimeError(
                f"pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True (got {lens.tolist()}). You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep "
                "this requirement if you do not need ONNX exportability."
            )
        order = xp.arange(batch)
        sorted_indices = None
    else:
        order = xp.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _int_tensor(order)
    if lens[0] > steps:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {int(lens[0])} is longer than the input's "
            f"{steps} time steps (input shape {tuple(input.shape)}, batch_first={batch_first})"
        )
    running = lens[None, :] > xp.arange(lens[0])[:, None]  # (T', B) in sorted order
    batch_sizes = running.sum(1)
    t_idx, s_idx = xp.nonzero(running)  # time-major, sorted batch order
    b_idx = order[s_idx]
    flat = b_idx * steps + t_idx if batch_first else t_idx * batch + b_idx
    rows = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = rows.index_select(0, _int_tensor(flat))
    return PackedSequence(data, _int_tensor(batch_sizes), sorted_indices, None)


def _with_padding_row(data: Tensor, padding_value: float) -> Tensor:
    from deepgrad.ops.join import cat

    pad = Tensor(xp.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.array.dtype))
    return cat([data, pad], 0)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded batch (original order) and the lengths.

    Shape:
        PackedSequence with data (N, *) -> (T, B, *) or, with ``batch_first``,
        (B, T, *), and lengths (B,) int64; T is ``total_length`` when given.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(
            f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}"
        )
    data = sequence.data
    bs = xp.asarray(sequence.batch_sizes.array, dtype=xp.int64)
    steps, batch = bs.shape[0], int(bs[0]) if bs.shape[0] else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"pad_packed_sequence: Expected total_length to be at least the length of the "
                f"longest sequence in input, but got total_length={total_length} and max "
                f"sequence length being {steps}"
            )
        steps_out = int(total_length)
    else:
        steps_out = steps
    starts = xp.concatenate([[0], xp.cumsum(bs)[:-1]]).astype(xp.int64)
    lengths_sorted = (bs[None, :] > xp.arange(batch)[:, None]).sum(1)  # (B,)
    if sequence.unsorted_indices is not None:
        position = xp.asarray(sequence.unsorted_indices.array, dtype=xp.int64)
    else:
        position = xp.arange(batch)
    t = xp.arange(steps_out)[:, None]
    valid = (t < steps) & (position[None, :] < bs[xp.minimum(t, steps - 1)])
    idx = xp.where(valid, starts[xp.minimum(t, steps - 1)] + position[None, :],
                      data.shape[0])  # (T, B); invalid positions read the padding row
    if batch_first:
        idx = idx.T
    out_shape = idx.shape + tuple(data.shape[1:])
    padded = _with_padding_row(data, padding_value).index_select(0, _int_tensor(idx.reshape(-1)))
    lengths = lengths_sorted[position]
    return padded.reshape(out_shape), _int_tensor(lengths)


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths into one padded tensor.

    Shape:
        B tensors (L_i, *) -> (T, B, *) or, with ``batch_first``, (B, T, *), T = max L_i
    """
    from deepgrad.ops.join import cat

    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}"
        )
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for k, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim < 1 or tuple(s.shape[1:]) != trailing:
            shape = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
            raise RuntimeError(
                f"pad_sequence: every sequence must be (L, *) with the same trailing dimensions "
                f"as the first {trailing}; sequence {k} has shape {shape}"
            )
    lens = xp.asarray([s.shape[0] for s in sequences], dtype=xp.int64)
    starts = xp.concatenate([[0], xp.cumsum(lens)[:-1]]).astype(xp.int64)
    total, steps = int(lens.sum()), int(lens.max())
    t = xp.arange(steps)[:, None]
    if padding_side == "right":
        pos = xp.broadcast_to(t, (steps, len(sequences)))
    else:
        pos = t - (steps - lens)[None, :]
    valid = (pos >= 0) & (pos < lens[None, :])
    idx = xp.where(valid, starts[None, :] + pos, total)  # (T, B)
    if batch_first:
        idx = idx.T
    rows = _with_padding_row(cat(sequences, 0), padding_value)
    return rows.index_select(0, _int_tensor(idx.reshape(-1))).reshape(idx.shape + trailing)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any,
                   batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences (a list of (L_i, *) tensors)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _lengths_array("unpad_sequence", lengths, padded_sequences.shape[0])
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lens.tolist())]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The sequences of a PackedSequence as a list of (L_i, *) tensors, original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = [
    "PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
    "pad_sequence", "pack_sequence", "unpad_sequence", "unpack_sequence",
]
