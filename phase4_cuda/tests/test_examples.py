"""The runnable lessons: hello and vector_add as `python -m` modules, the missing-guard demo,
and the kernel check."""

import pytest

from phase4_cuda import __main__ as check
from phase4_cuda import hello, vector_add
from phase4_cuda import matmul as mm
from phase4_cuda.device import simulated


@pytest.mark.exercise(id="4.1")
def test_hello_prints_every_thread(capfd):
    assert hello.main(["--blocks", "2", "--threads", "3"]) == 0
    out = capfd.readouterr().out
    # one line per thread; in the simulator threads print concurrently and print() writes its
    # arguments one by one, so whole lines can interleave: count the arguments, not the lines
    assert out.count("-> global index") == 6
    assert out.startswith("2 blocks x 3 threads on ")


@pytest.mark.exercise(id="4.1")
@pytest.mark.skipif(not simulated(), reason="reads the kernel's print() in numba's simulator")
def test_hello_says_each_threads_block_thread_and_global_index(monkeypatch):
    # in the simulator the kernel is Python: a `print` in its module's globals takes its lines
    said = []
    monkeypatch.setattr(hello, "print", lambda *args, **kw: said.append(args), raising=False)
    assert hello.main(["--blocks", "3", "--threads", "4"]) == 0
    want = {
        ("block", b, "thread", t, "-> global index", b * 4 + t) for b in range(3) for t in range(4)
    }
    got = {tuple(int(a) if not isinstance(a, str) else a for a in args) for args in said if args}
    lines = {g for g in got if g and g[0] == "block"}
    assert lines == want, (
        "hello: each thread prints block, blockIdx.x, thread, threadIdx.x, -> global index, "
        f"blockIdx.x * blockDim.x + threadIdx.x; missing {sorted(want - lines)[:3]}, "
        f"unexpected {sorted(lines - want)[:3]}"
    )


@pytest.mark.exercise(id="4.2")
def test_vector_add_main(capsys):
    assert vector_add.main(["--n", "1000"]) == 0
    assert "matches NumPy" in capsys.readouterr().out


@pytest.mark.exercise(id="4.2")
def test_vector_add_with_other_block_sizes(capsys):
    assert vector_add.main(["--n", "100", "--threads", "32"]) == 0
    assert "vector_add of 100 float32: matches NumPy" in capsys.readouterr().out


def test_the_missing_guard_demo(capsys):
    # 100 elements on 4 blocks of 32 threads: threads 100..127 index past the end. The
    # simulator checks every index; a real GPU checks none and the demo counts the stray writes.
    assert vector_add.main(["--n", "100", "--threads", "32", "--no-guard"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 blocks x 32 threads = 128 threads for 100 elements (no guard)\n")
    if simulated():
        assert "caught: IndexError: " in out and "out of bounds for axis 0 with size 100" in out
    else:
        assert "no error: 28 of the 28 threads past the end wrote beyond out[99]" in out


def test_vector_add_refuses_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        vector_add.main(["--threads", "2000"])
    assert "1-1024 threads per block" in capsys.readouterr().err


def test_kernel_check(capsys):
    assert check.main() == 0
    out = capsys.readouterr().out
    versions, left_out = mm.runnable(mm.VERSIONS)
    assert f"matmul checks ({len(versions)} versions), worst relative error" in out
    assert "in fp32 (tolerance 1e-05)" in out
    assert ("in tf32 (tolerance 2e-03)" in out) == (left_out is None)
    assert "fused epilogues" in out and "24 checks" in out


def test_kernel_check_on_an_older_gpu(capsys, monkeypatch):
    """A GPU of compute capability 7.5 (a T4): the tensor-core rungs left out in one line, the
    rest checked; naming one of them is a usage error."""
    monkeypatch.setenv(mm.CC_OVERRIDE, "7.5")
    assert check.main(["--shape", "9", "7", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    left = [line for line in out if "left out" in line]
    assert (
        len(left) == 1
        and "tensor_tf32, tensor_bf16, tensor_tf32_async, tensor_bf16_async" in left[0]
    )
    assert "wgmma_bf16, wgmma_bf16_2wg, wgmma_tf32_2wg, wgmma_bf16_tma, wgmma_tf32_tma" in left[0]
    assert "compute capability 8.0 or newer; wgmma needs compute capability 9.0 exactly" in left[0]
    assert left[0].endswith("this GPU is 7.5)")
    assert any("matmul checks (7 versions)" in line and "tf32" not in line for line in out)
    assert check.main(["--versions", "wide", "tensor_bf16", "--shape", "9", "7", "5"]) == 2
    assert "left out: tensor_bf16 (bf16 needs" in capsys.readouterr().err
    monkeypatch.setenv(mm.CC_OVERRIDE, "seven")
    with pytest.raises(ValueError, match=r"expected MAJOR\.MINOR"):
        mm.compute_capability()


def test_the_wgmma_rungs_need_hopper(capsys, monkeypatch):
    """An A100 (8.0) and a GPU after Hopper (10.0): every tensor-core rung runs but the wgmma ones
    (9.0 alone, sm_90a), left out in one line; naming one of them is a usage error."""
    for cc in ("8.0", "10.0"):
        monkeypatch.setenv(mm.CC_OVERRIDE, cc)
        kept, left_out = mm.runnable(mm.VERSIONS)
        assert kept == list(mm.VERSIONS[:11])
        assert left_out == (
            "left out: wgmma_bf16, wgmma_bf16_2wg, wgmma_tf32_2wg, wgmma_bf16_tma, wgmma_tf32_tma (wgmma "
            "needs compute capability "
            f"9.0 exactly (sm_90a: no other GPU has its instructions); this GPU is {cc})"
        )
    assert check.main(["--versions", "wgmma_tf32_2wg", "--shape", "9", "7", "5"]) == 2
    assert "left out: wgmma_tf32_2wg (wgmma needs compute capability 9.0" in capsys.readouterr().err


def test_a_quick_kernel_check_of_chosen_versions(capsys):
    assert check.main(["--versions", "wide", "naive", "--shape", "5", "7", "9"]) == 0
    out = capsys.readouterr().out
    assert "2 matmul checks (2 versions), worst relative error" in out
    assert "fused epilogues" in out and ": 6 checks" in out  # 6 epilogues x wide x one shape
    assert check.main(["--versions", "naive", "--shape", "3", "4", "5"]) == 0
    out = capsys.readouterr().out
    assert "1 matmul checks (1 versions)" in out and "fused epilogues: not checked" in out
    with pytest.raises(SystemExit):
        check.main(["--shape", "0", "4", "5"])
    with pytest.raises(SystemExit):
        check.main(["--versions", "fastest"])


def test_kernel_check_fails_with_one_line(monkeypatch, capsys):
    from phase4_cuda import matmul

    def wrong(*args, **kwargs):
        raise AssertionError("wide at (M, K, N) = (1, 1, 1): relative error nan")

    monkeypatch.setattr(matmul, "validate", wrong)
    assert check.main() == 1
    err = capsys.readouterr().err
    assert err == "error: kernel check failed: wide at (M, K, N) = (1, 1, 1): relative error nan\n"
