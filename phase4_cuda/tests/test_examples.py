"""The runnable lessons: hello and vector_add as `python -m` modules, and the kernel check."""

from phase4_cuda import __main__ as check
from phase4_cuda import hello, vector_add


def test_hello_prints_every_thread(capfd):
    assert hello.main(["--blocks", "2", "--threads", "3"]) == 0
    out = capfd.readouterr().out
    # one line per thread; in the simulator threads print concurrently and print() writes its
    # arguments one by one, so whole lines can interleave: count the arguments, not the lines
    assert out.count("-> global index") == 6
    assert out.startswith("2 blocks x 3 threads on ")


def test_vector_add_main(capsys):
    assert vector_add.main(["--n", "1000"]) == 0
    assert "matches NumPy" in capsys.readouterr().out


def test_kernel_check(capsys):
    assert check.main() == 0
    out = capsys.readouterr().out
    assert "matmul checks (7 versions), worst relative error" in out
    assert "fused epilogues" in out and "24 checks" in out


def test_kernel_check_fails_with_one_line(monkeypatch, capsys):
    from phase4_cuda import matmul

    def wrong(*args, **kwargs):
        raise AssertionError("wide at (M, K, N) = (1, 1, 1): relative error nan")

    monkeypatch.setattr(matmul, "validate", wrong)
    assert check.main() == 1
    err = capsys.readouterr().err
    assert err == "error: kernel check failed: wide at (M, K, N) = (1, 1, 1): relative error nan\n"
