"""A small CUDA emulator: kernels/cuda/*.cu run on the CPU, driven by the kernels' own launch code.

No GPU here, so each .cu is compiled as C++ with a shim that defines
threadIdx/blockIdx/blockDim/gridDim (3-D) and __syncthreads (a barrier):
the threads of a block are fibers (ucontext) on one OS thread, switched at
each barrier, and blocks run one after another. The launch wrappers
(kernels/<family>.py through kernels/_cuda.py) run against a fake CuPy whose
arrays are NumPy arrays and whose RawModule is that C++ library, so the launch
code is tested too. As with CuPy, a module's kernels are its `extern "C"`
functions, looked up by name, and the template instantiations named in
name_expressions (`im2col<float>`), looked up by that expression. Each
kernel argument must be an array or a NumPy scalar of exactly the C type of
the parameter (a Python int, or an int32 for a long long, fails here as it
would corrupt the launch on a GPU).

Two PTX instructions of the TF32 GEMM are emulated, as PTX's ISA documents
them: cvt.rna.tf32.f32 (round to 10 mantissa bits, ties away from zero) and
the warp-wide mma.sync m16n8k8 TF32 multiply-accumulate (each lane's fragment
registers gathered across its warp at a block barrier; products exact, sums in
float32 in ascending k). Sources pick them under #ifdef MINIGAN_CUDA_EMULATOR.

What this cannot see: GPU memory, other warp-level intrinsics (__shfl_sync
and friends are not defined, so code using them fails to build here), other
inline PTX, the tensor cores' own rounding, NVRTC-only behaviour, races
between blocks (blocks run one at a time), performance.
"""
import ctypes
import hashlib
import re
import subprocess
import types

import numpy

KERNEL_DEF = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')
TEMPLATE_KERNEL_DEF = re.compile(r'template\s*<\s*typename\s+\w+\s*>\s*__global__\s+void\s+(\w+)\s*\(')


def strip_comments(code):
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", code, flags=re.S)


def defined_kernels(code):
    """The names of the plain `extern "C"` kernels code defines."""
    return set(KERNEL_DEF.findall(strip_comments(code)))


def defined_templates(code):
    """The names of the `template <typename T> __global__` kernels code defines."""
    return set(TEMPLATE_KERNEL_DEF.findall(strip_comments(code)))


SHIM = r"""
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <ucontext.h>
#include <utility>
#include <vector>

struct dim3 { unsigned x, y, z; };
dim3 threadIdx, blockIdx, blockDim, gridDim;

// The threads of a block are fibers on one OS thread: __syncthreads hands
// control back to the scheduler, which runs every other thread of the block
// up to the same barrier before any goes on.
ucontext_t scheduler_context;
ucontext_t* running_thread;
inline void __syncthreads() { swapcontext(running_thread, &scheduler_context); }

// The integer intrinsics CUDA code may use, with their CUDA meaning.
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}

// The PTX the TF32 GEMM uses (kernels/cuda/gemm_tf32.cu), emulated.
#define MINIGAN_CUDA_EMULATOR
inline unsigned emulated_cvt_rna_tf32(float value) {
    unsigned bits;
    std::memcpy(&bits, &value, 4);
    if ((bits & 0x7f800000u) == 0x7f800000u) return bits;  // Inf and NaN pass unchanged
    return (bits + 0x1000u) & 0xffffe000u;  // on the magnitude: half up is away from zero
}

inline float tf32_value(unsigned bits) {
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 d, a, b, d. With g = lane / 4 and
// t = lane % 4: a0..a3 hold A (16x8) at (g, t), (g+8, t), (g, t+4), (g+8, t+4); b0, b1 hold
// B (8x8) at (t, g), (t+4, g); d0..d3 hold C (16x8) at (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
// Every thread of the block must call it together (the warp's lanes meet at a barrier).
struct WarpFragments { unsigned a[32][4], b[32][2]; };
inline void emulated_mma_m16n8k8_tf32(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    static WarpFragments warps[32];
    const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    WarpFragments& warp = warps[thread / 32];
    const unsigned lane = thread % 32, g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) warp.a[lane][i] = a[i];
    for (int i = 0; i < 2; ++i) warp.b[lane][i] = b[i];
    __syncthreads();
    auto a_at = [&](unsigned row, unsigned k) {  // A's element (row, k), from the lane holding it
        return tf32_value(warp.a[row % 8 * 4 + k % 4][row / 8 + k / 4 * 2]);
    };
    auto b_at = [&](unsigned k, unsigned col) { return tf32_value(warp.b[col * 4 + k % 4][k / 4]); };
    for (int q = 0; q < 4; ++q) {
        const unsigned row = g + q / 2 * 8, col = 2 * t + q % 2;
        for (unsigned k = 0; k < 8; ++k) d[q] += a_at(row, k) * b_at(k, col);
    }
    __syncthreads();  // every lane has read the warp's fragments before any writes its next ones
}

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
"""

LAUNCHER = r"""
template <typename T> std::string type_code() {
    using U = std::remove_cv_t<std::remove_pointer_t<T>>;
    std::string p = std::is_pointer_v<T> ? "P" : "";
    if constexpr (std::is_same_v<U, float>) return p + "f4";
    else if constexpr (std::is_same_v<U, double>) return p + "f8";
    else if constexpr (std::is_same_v<U, int>) return p + "i4";
    else if constexpr (std::is_same_v<U, long long>) return p + "i8";
    else if constexpr (std::is_same_v<U, unsigned>) return p + "u4";
    else if constexpr (std::is_same_v<U, unsigned long long>) return p + "u8";
    else return p + "?";
}

template <typename... Args> const char* signature(void (*)(Args...)) {
    static std::string s = ((type_code<Args>() + ",") + ... + std::string());
    return s.c_str();
}

constexpr std::size_t FIBER_STACK = 256 * 1024;
// Allocated once, never zeroed: each stack's pages are touched only as deep as it grows.
char* const fiber_stacks = new char[1024 * FIBER_STACK];
void (*fiber_body)();
bool* fiber_done;
void fiber_entry() { fiber_body(); *fiber_done = true; }

template <typename... Args, std::size_t... I>
void launch(void (*kernel)(Args...), const unsigned* grid, const unsigned* block, void** args,
            std::index_sequence<I...>) {
    gridDim = {grid[0], grid[1], grid[2]};
    blockDim = {block[0], block[1], block[2]};
    const unsigned threads = block[0] * block[1] * block[2];
    static void (*current)(Args...);
    static void** current_args;
    current = kernel;
    current_args = args;
    fiber_body = [] { current(*static_cast<std::remove_cv_t<Args>*>(current_args[I])...); };
    std::vector<ucontext_t> contexts(threads);
    std::unique_ptr<bool[]> done(new bool[threads]);
    for (unsigned bz = 0; bz < grid[2]; ++bz)
    for (unsigned by = 0; by < grid[1]; ++by)
    for (unsigned bx = 0; bx < grid[0]; ++bx) {
        blockIdx = {bx, by, bz};
        for (unsigned t = 0; t < threads; ++t) {
            getcontext(&contexts[t]);
            contexts[t].uc_stack.ss_sp = fiber_stacks + t * FIBER_STACK;
            contexts[t].uc_stack.ss_size = FIBER_STACK;
            contexts[t].uc_link = &scheduler_context;
            makecontext(&contexts[t], fiber_entry, 0);
            done[t] = false;
        }
        // Rounds: each unfinished thread runs to its next barrier (or its end).
        for (bool unfinished = true; unfinished;) {
            unfinished = false;
            for (unsigned t = 0; t < threads; ++t) {
                if (done[t]) continue;
                threadIdx = {t % block[0], t / block[0] % block[1], t / (block[0] * block[1])};
                running_thread = &contexts[t];
                fiber_done = &done[t];
                swapcontext(&scheduler_context, &contexts[t]);
                unfinished |= !done[t];
            }
        }
    }
}

template <typename... Args>
void launch(void (*kernel)(Args...), const unsigned* grid, const unsigned* block, void** args) {
    launch(kernel, grid, block, args, std::index_sequence_for<Args...>{});
}
"""


def _dim3(dims, name, kernel):
    assert 1 <= len(dims) <= 3 and all(int(d) >= 1 for d in dims), \
        f"{kernel}: {name} {dims} must be 1 to 3 positive sizes"
    return (ctypes.c_uint * 3)(*(list(map(int, dims)) + [1] * (3 - len(dims))))


class EmulatedFunction:
    def __init__(self, library, name, symbol):
        self.name = name
        self.launch = getattr(library, f"launch_{symbol}")
        self.launch.argtypes = [ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint),
                                ctypes.POINTER(ctypes.c_void_p)]
        sig = getattr(library, f"signature_{symbol}")
        sig.restype = ctypes.c_char_p
        self.signature = sig().decode().rstrip(",").split(",")
        self.launches = 0

    def __call__(self, grid, block, args):
        grid, block = _dim3(grid, "grid", self.name), _dim3(block, "block", self.name)
        assert block[0] * block[1] * block[2] <= 1024, f"{self.name}: more than 1024 threads per block"
        assert len(args) == len(self.signature), \
            f"{self.name}: {len(args)} arguments for {len(self.signature)} parameters"
        keep, pointers = [], (ctypes.c_void_p * len(args))()
        for i, (arg, expected) in enumerate(zip(args, self.signature)):
            if isinstance(arg, numpy.ndarray):
                got = f"P{arg.dtype.kind}{arg.dtype.itemsize}"
                assert arg.flags.c_contiguous, f"{self.name}: argument {i} is not C-contiguous"
                holder = ctypes.c_void_p(arg.ctypes.data)
                address = ctypes.addressof(holder)
            elif isinstance(arg, numpy.generic):
                got = f"{arg.dtype.kind}{arg.dtype.itemsize}"
                holder = numpy.array(arg)
                address = holder.ctypes.data
            else:
                raise AssertionError(f"{self.name}: argument {i} is a {type(arg).__name__}; "
                                     f"pass arrays or NumPy scalars of the parameter's C type")
            assert got == expected, f"{self.name}: argument {i} is {got}, the kernel takes {expected}"
            keep.append(holder)
            pointers[i] = address
        self.launches += 1
        self.launch(grid, block, pointers)


class EmulatedModule:
    def __init__(self, code, build_dir, include_dirs, name_expressions=()):
        # Each kernel gets a C symbol of its own: its name, or for a template
        # instantiation its position among the name expressions.
        symbols = {n: n for n in sorted(defined_kernels(code))}
        symbols.update({expression: f"expression_{i}" for i, expression in enumerate(name_expressions)})
        stem = "module_" + hashlib.sha1((code + repr(tuple(name_expressions))).encode()).hexdigest()[:16]
        (build_dir / f"{stem}.cu.inc").write_text(code)
        wrappers = "".join(
            f'extern "C" void launch_{s}(const unsigned* g, const unsigned* b, void** a) '
            f'{{ launch({n}, g, b, a); }}\n'
            f'extern "C" const char* signature_{s}() {{ return signature({n}); }}\n'
            for n, s in symbols.items())
        cpp = build_dir / f"{stem}.cpp"
        cpp.write_text(f'{SHIM}\n#include "{stem}.cu.inc"\n{LAUNCHER}\n{wrappers}')
        library = build_dir / f"{stem}.so"
        result = subprocess.run(["g++", "-std=c++17", "-O1", "-shared", "-fPIC",
                                 *(f"-I{d}" for d in include_dirs), "-o", str(library), str(cpp)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"emulator build failed:\n{result.stderr}"
        self.library = ctypes.CDLL(str(library))
        self.functions = {n: EmulatedFunction(self.library, n, s) for n, s in symbols.items()}

    def get_function(self, name):
        """A kernel by its extern "C" name or by one of the module's name expressions, as in CuPy."""
        return self.functions[name]


class FakeCupy(types.SimpleNamespace):
    """The part of CuPy the kernels use, on NumPy arrays; RawModule builds EmulatedModules.

    options must be exactly those kernels/_cuda.py passes (expected_options); the
    headers are found only through their -I options.
    """

    def __init__(self, build_dir, expected_options):
        modules = {}

        def raw_module(code, options=(), name_expressions=()):
            assert options == expected_options, f"RawModule options {options} != {expected_options}"
            key = code, tuple(name_expressions)
            if key not in modules:
                modules[key] = EmulatedModule(code, build_dir, [o[2:] for o in options if o.startswith("-I")],
                                              name_expressions)
            return modules[key]

        device = types.SimpleNamespace(attributes={"MultiProcessorCount": 2}, compute_capability="90")
        cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDevice=lambda: 0),
                                     Device=lambda device_id=0: device)
        super().__init__(RawModule=raw_module, cuda=cuda, ndarray=numpy.ndarray,
                         ascontiguousarray=numpy.ascontiguousarray, asarray=numpy.asarray,
                         empty=numpy.empty, empty_like=numpy.empty_like, zeros=numpy.zeros)
