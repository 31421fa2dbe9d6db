// Binding 3 of 3: pybind11 (C++), phase3_c._pybind, taking and returning NumPy arrays.
//
// pybind11 writes the CPython glue the C-API binding spells out by hand: argument conversion,
// reference counting, exceptions. Inputs follow phase3_c/inputs.py (a 2-D NumPy array or a
// phase1_python Matrix; real dtypes converted to float64, float32 only for the float32 product;
// arrays whose rows are not contiguous are copied). Outputs are 64-byte aligned and owned by a
// capsule; the GIL is released around each call into the C library.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "matrix.h"
#include "platform.h"  // nn_aligned_alloc / nn_aligned_free: MSVC has no std::aligned_alloc

namespace py = pybind11;

namespace {

// float32 in either byte order ('>f4' holds float32 values too, and gets the float32 product)
bool is_float32(const py::dtype &d) { return d.kind() == 'f' && d.itemsize() == 4; }

// `obj` as a 2-D array of T with contiguous rows (a view when possible, else a copy).
template <typename T>
py::array_t<T> take(py::handle obj, const char *name) {
    py::object source = py::reinterpret_borrow<py::object>(obj);
    if (!py::isinstance<py::array>(obj)) {
        if (py::isinstance<py::list>(obj) || !py::hasattr(obj, "tolist"))
            throw py::type_error(std::string(name) + ": expected a NumPy array or a phase1_python Matrix, got " +
                                 std::string(py::str(py::type::of(obj).attr("__name__"))));
        source = py::module_::import("numpy").attr("asarray")(obj.attr("tolist")());  // Phase 1 Matrix
    }
    py::array arr = source.cast<py::array>();
    if (arr.ndim() != 2)
        throw py::value_error(std::string(name) + ": expected 2 dimensions, got " + std::to_string(arr.ndim()));
    char kind = arr.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
        throw py::type_error(std::string(name) + ": expected real numbers, got dtype " +
                             std::string(py::str(arr.dtype())));
    if (std::is_same<T, float>::value && !is_float32(arr.dtype()))
        throw py::type_error(std::string(name) + ": the float32 product needs float32 arrays, got " +
                             std::string(py::str(arr.dtype())) +
                             " (convert with .astype(np.float32), or use the float64 product)");
    // usable in place: the type in native byte order (dtype::is compares byte order too), aligned
    // for T (a view into a byte buffer may not be), with contiguous rows
    bool rows_ok = arr.dtype().is(py::dtype::of<T>()) &&
                   reinterpret_cast<std::uintptr_t>(arr.data()) % alignof(T) == 0 &&
                   (arr.shape(1) <= 1 || arr.strides(1) == sizeof(T)) &&
                   (arr.shape(0) <= 1 || (arr.strides(0) >= arr.shape(1) * (py::ssize_t)sizeof(T) &&
                                          arr.strides(0) % (py::ssize_t)sizeof(T) == 0));
    if (rows_ok) return py::reinterpret_borrow<py::array_t<T>>(arr);
    // A fresh C-contiguous, aligned copy in native byte order, made by NumPy (pybind11's own
    // conversion asks for no alignment, and its ensure() turns NumPy's MemoryError for a copy too
    // large to make into a null array).
    return py::module_::import("numpy").attr("array")(arr, py::dtype::of<T>(), py::arg("order") = "C");
}

template <typename T>
py::array_t<T> aligned_output(py::ssize_t rows, py::ssize_t cols) {
    size_t bytes = ((size_t)(rows * cols) * sizeof(T) + 63) / 64 * 64;
    void *data = nn_aligned_alloc(64, bytes ? bytes : 64);
    if (data == nullptr) {
        PyErr_Format(PyExc_MemoryError, "cannot allocate the (%zd, %zd) output (%lld MiB)", (Py_ssize_t)rows,
                     (Py_ssize_t)cols, (long long)((double)rows * (double)cols * sizeof(T) / (1 << 20)));
        throw py::error_already_set();
    }
    py::capsule owner(data, [](void *p) { nn_aligned_free(p); });
    return py::array_t<T>({rows, cols}, {cols * (py::ssize_t)sizeof(T), (py::ssize_t)sizeof(T)},
                          static_cast<T *>(data), owner);
}

// The C view of an array. Inputs may be read-only (a broadcast view, a frozen array): the library
// only reads them through const pointers, so the pointer is taken without asking for write access.
template <typename M, typename T>
M view(py::array_t<T> &a) {
    size_t stride = a.shape(0) > 1 ? (size_t)(a.strides(0) / (py::ssize_t)sizeof(T)) : (size_t)a.shape(1);
    return M{(size_t)a.shape(0), (size_t)a.shape(1), stride, const_cast<T *>(a.data())};
}

void check(nn_status s, const char *what) {
    if (s == NN_ERR_ALLOC) throw std::bad_alloc();
    if (s != NN_OK) throw py::value_error(std::string(what) + ": " + nn_status_str(s));
}

std::string shapes(const py::array &a, const py::array &b) {
    return "(" + std::to_string(a.shape(0)) + ", " + std::to_string(a.shape(1)) + ") and (" +
           std::to_string(b.shape(0)) + ", " + std::to_string(b.shape(1)) + ")";
}

using Product64 = nn_status (*)(const nn_matrix *, const nn_matrix *, nn_matrix *);

py::array product64(py::handle oa, py::handle ob, Product64 fn, const char *what, bool elementwise) {
    // exercise 3.3: begin product64
    auto a = take<double>(oa, "a"), b = take<double>(ob, "b");
    if (elementwise ? (a.shape(0) != b.shape(0) || a.shape(1) != b.shape(1)) : a.shape(1) != b.shape(0))
        throw py::value_error(std::string(what) + ": shapes " + shapes(a, b) +
                              (elementwise ? " differ" : " are not aligned"));
    auto out = aligned_output<double>(a.shape(0), elementwise ? a.shape(1) : b.shape(1));
    nn_matrix ma = view<nn_matrix>(a), mb = view<nn_matrix>(b), mo = view<nn_matrix>(out);
    nn_status s;
    {
        py::gil_scoped_release release;
        s = fn(&ma, &mb, &mo);
    }
    check(s, what);
    return out;
    // exercise 3.3: end product64
}

py::array matmul_f32(py::handle oa, py::handle ob) {
    // exercise 3.3: begin matmul_f32
    auto a = take<float>(oa, "a"), b = take<float>(ob, "b");
    if (a.shape(1) != b.shape(0)) throw py::value_error("matmul_f32: shapes " + shapes(a, b) + " are not aligned");
    auto out = aligned_output<float>(a.shape(0), b.shape(1));
    nn_matrix_f32 ma = view<nn_matrix_f32>(a), mb = view<nn_matrix_f32>(b), mo = view<nn_matrix_f32>(out);
    nn_status s;
    {
        py::gil_scoped_release release;
        s = nn_matmul_f32(&ma, &mb, &mo);
    }
    check(s, "matmul_f32");
    return out;
    // exercise 3.3: end matmul_f32
}

py::array scale(py::handle oa, double s) {
    // exercise 3.3: begin scale
    auto a = take<double>(oa, "a");
    auto out = aligned_output<double>(a.shape(0), a.shape(1));
    nn_matrix ma = view<nn_matrix>(a), mo = view<nn_matrix>(out);
    nn_status st;
    {
        py::gil_scoped_release release;
        st = nn_scale(&ma, s, &mo);
    }
    check(st, "scale");
    return out;
    // exercise 3.3: end scale
}

py::array transpose(py::handle oa) {
    // exercise 3.3: begin transpose
    auto a = take<double>(oa, "a");
    auto out = aligned_output<double>(a.shape(1), a.shape(0));
    nn_matrix ma = view<nn_matrix>(a), mo = view<nn_matrix>(out);
    nn_status st;
    {
        py::gil_scoped_release release;
        st = nn_transpose(&ma, &mo);
    }
    check(st, "transpose");
    return out;
    // exercise 3.3: end transpose
}

bool both_float32(py::handle a, py::handle b) {
    auto f32 = [](py::handle x) {
        return py::isinstance<py::array>(x) && is_float32(py::cast<py::array>(x).dtype());
    };
    return f32(a) && f32(b);
}

}  // namespace

PYBIND11_MODULE(_pybind, m) {
    m.doc() = "phase3_c's pybind11 binding.";
    m.def("matmul", [](py::handle a, py::handle b) {
        return both_float32(a, b) ? matmul_f32(a, b) : product64(a, b, nn_matmul, "matmul", false);
    }, "a @ b, packed product; float32 when both are float32.");
    m.def("matmul_f32", &matmul_f32, "a @ b in float32 (float32 arrays only).");
    m.def("matmul_naive", [](py::handle a, py::handle b) { return product64(a, b, nn_matmul_naive, "matmul_naive", false); });
    m.def("matmul_ikj", [](py::handle a, py::handle b) { return product64(a, b, nn_matmul_ikj, "matmul_ikj", false); });
    m.def("add", [](py::handle a, py::handle b) { return product64(a, b, nn_add, "add", true); });
    m.def("sub", [](py::handle a, py::handle b) { return product64(a, b, nn_sub, "sub", true); });
    m.def("mul", [](py::handle a, py::handle b) { return product64(a, b, nn_mul, "mul", true); });
    m.def("scale", &scale);
    m.def("transpose", &transpose);
    m.def("kernel_name", [] { return std::string(nn_kernel_name()); });
    // py::str, not std::string: bytes are refused as the C-API binding refuses them, and a NUL
    // inside the name is refused rather than read by C as the name's end ("auto\0x" as "auto")
    m.def("set_kernel", [](const py::str &text) {
        const std::string name = text;
        if (name.find('\0') != std::string::npos)
            throw py::value_error("set_kernel: the name holds a NUL character");
        if (nn_set_kernel(name.c_str()) != NN_OK)
            throw py::value_error("set_kernel: '" + name + "' is unknown or not supported on this CPU (it runs: " +
                                  nn_kernels_supported() + ")");
    });
    m.def("threads", &nn_threads);
    m.def("set_threads", [](int n) {
        if (nn_set_threads(n) != NN_OK)
            throw py::value_error("set_threads: need 0 (the default) to 256 threads, got " + std::to_string(n));
    });
}
