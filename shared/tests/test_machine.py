"""What a result depends on: the machine's record, and NumPy's OpenBLAS as it runs."""

from shared.machine import machine_info, numpy_openblas, openblas_warning


def test_numpy_s_openblas_is_named_and_a_forced_core_type_is_warned_of(monkeypatch):
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # a machine may set both
        monkeypatch.delenv(name, raising=False)
    info = numpy_openblas()
    if "corename" in info:  # NumPy's wheels bundle OpenBLAS; a NumPy built on another BLAS has none
        assert info["corename"] and "OpenBLAS" in info["config"]
    assert openblas_warning(info) is None
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    forced = numpy_openblas()
    assert forced["env"] == {"OPENBLAS_CORETYPE": "Haswell"}
    warning = openblas_warning(forced)
    assert warning.startswith("OPENBLAS_CORETYPE=Haswell holds NumPy's OpenBLAS")
    assert "unset it" in warning
    assert machine_info()["openblas"].keys() >= {"env"}
