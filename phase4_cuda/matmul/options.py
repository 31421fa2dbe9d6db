"""The options of the training step's products, in one place: what `plan()` takes beside the
operands, and what of it a kernel is compiled for.

    bias        (N,) added to every row of the product           act(A @ B + bias): a dense layer
    activation  one of ACTIVATIONS, applied to each output        relu, sigmoid, tanh, or None
    trans_a     A is stored transposed, (K, M)                    dW = h.T @ delta
    trans_b     B is stored transposed, (N, K)                    delta @ W.T
    mask        (M, N): zero every output whose mask is not positive   (delta @ W.T) * (h > 0)
    col_sums    (N,) receives the column sums of op(B)            the bias gradient, from delta
    split       slices of K on blockIdx.z (split-K, split_k.py)   products too small for the GPU

Rungs 6, 7, 10 and 11 take them (the tensor-core rungs all but `col_sums` with `split`); the
others compute the plain product. A kernel is compiled for `KernelOptions`, the flags numba
freezes into its code: which arrays it reads, the activation, the layouts, whether K is split.
The arrays and the number of slices are launch arguments, so one kernel serves every size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from phase4_cuda.matmul.epilogues import check_activation

__all__ = ["KernelOptions", "Options"]


@dataclass(frozen=True, kw_only=True)
class KernelOptions:
    """The options a kernel is compiled for (closure constants: an option not taken costs
    nothing). Keyword-only, so that a kernel variant lists its tiles first."""

    activation: str | None = None
    bias: bool = False
    trans_a: bool = False
    trans_b: bool = False
    mask: bool = False
    col_sums: bool = False
    split_k: bool = False

    def options_text(self) -> str:
        """' +relu +bias +trans_a ...': the options taken, for a kernel's name."""
        names = [f.name for f in dataclasses.fields(KernelOptions) if f.name != "activation"]
        extras = f" +{self.activation}" if self.activation else ""
        return extras + "".join(f" +{name}" for name in names if getattr(self, name))


@dataclass(frozen=True)
class Options:
    """`plan()`'s options as a caller gives them (the table above): device arrays or None, the
    activation's name, the layouts, the number of slices of K."""

    bias: object = None
    activation: str | None = None
    trans_a: bool = False
    trans_b: bool = False
    mask: object = None
    col_sums: object = None
    split: int = 1

    def __post_init__(self) -> None:
        check_activation(self.activation)
        if self.split < 1:
            raise ValueError(f"split must be 1 or more slices of K, got {self.split}")

    def given(self) -> list[str]:
        """The names of the options asked for, in the table's order."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["split"] = self.split != 1
        return [name for name, value in values.items() if value is not None and value is not False]

    def kernel_options(self) -> KernelOptions:
        return KernelOptions(
            activation=self.activation, bias=self.bias is not None, trans_a=self.trans_a,
            trans_b=self.trans_b, mask=self.mask is not None, col_sums=self.col_sums is not None,
            split_k=self.split > 1,
        )  # fmt: skip

    def inner_size(self, a) -> int:
        """K, from the stored A (M, K), or (K, M) with trans_a."""
        return a.shape[0] if self.trans_a else a.shape[1]

    def arrays(self, c) -> list:
        """bias, mask and col_sums as the kernels take them: flat views, and a placeholder (a
        one-element view of c, never read) for each one not asked for."""
        unused = c.reshape(c.size)[:1]
        arrays = (self.bias, self.mask, self.col_sums)
        return [unused if x is None else x.reshape(x.size) for x in arrays]
