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

Out-of-bounds accesses fail loudly: each array argument is copied between two
guard zones (a signalling NaN, or 0xA5 bytes for integers), the kernel code is
compiled with g++'s kernel-address instrumentation so that every load and
store first calls a check here, and a launch that touched a guard zone raises
OutOfBounds naming the kernel, the argument and the element index (and a guard
byte changed by anything unchecked raises too). So a read one past the end
fails every time, whatever lies beyond the array.

Two PTX instructions of the TF32 GEMM are emulated, as PTX's ISA documents
them: cvt.rna.tf32.f32 (round to 10 mantissa bits, ties away from zero) and
the warp-wide mma.sync m16n8k8 TF32 multiply-accumulate (each lane's fragment
registers gathered across its warp at a block barrier; products exact, sums in
float32 in ascending k). Sources pick them under #ifdef MINIGAN_CUDA_EMULATOR.
The GEMMs' cp.async prefetch (kernels/cuda/async_copy.cuh) runs here as the plain
copy older GPUs take: the same double-buffer schedule, done synchronously.

What this cannot see: GPU memory, other warp-level intrinsics (__shfl_sync
and friends are not defined, so code using them fails to build here), other
inline PTX, the tensor cores' own rounding, NVRTC-only behaviour, races
between blocks (blocks run one at a time), performance, out-of-bounds accesses
of shared memory, and accesses so far out that they skip an array's guard zone
(as large as the array, at least 256 bytes).
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
#include <algorithm>
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

// CUDA's vector types the kernels load shared memory with, its alignment attribute, and its
// integer min and max.
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
#define __align__(n) __attribute__((aligned(n)))
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

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

// Out-of-bounds checks. g++ -fsanitize=kernel-address calls __asan_{load,store}N_noabort before
// every load and store of the kernel code; here they look the address up among the arrays of
// the launch, each surrounded by guard zones (tests/support/cuda_emulator.py, Guards). An access
// that touches a guard zone is recorded, the first one in full, and the launch goes on: the
// guard zones are real memory, so the access itself does no harm.
struct GuardedArray { std::uintptr_t low, begin, end, high; long long argument; };
GuardedArray guarded_arrays[64];
int guarded_count = 0;
std::uintptr_t guarded_low = 0, guarded_high = 0;  // around them all: shared memory and stacks lie outside
// argument, byte offset from the array's start, bytes accessed, is a write, thread x y z, block x y z
long long first_violation[10];
long long violation_count = 0;

extern "C" __attribute__((no_sanitize_address)) void emulator_guard(int count, const long long* ranges) {
    guarded_count = count;
    guarded_low = UINTPTR_MAX, guarded_high = 0;
    for (int i = 0; i < count; ++i) {
        guarded_arrays[i] = {(std::uintptr_t)ranges[5 * i], (std::uintptr_t)ranges[5 * i + 1],
                             (std::uintptr_t)ranges[5 * i + 2], (std::uintptr_t)ranges[5 * i + 3], ranges[5 * i + 4]};
        guarded_low = std::min(guarded_low, guarded_arrays[i].low);
        guarded_high = std::max(guarded_high, guarded_arrays[i].high);
    }
    violation_count = 0;
}

extern "C" __attribute__((no_sanitize_address)) long long emulator_violations(long long* first) {
    for (int i = 0; i < 10; ++i) first[i] = first_violation[i];
    return violation_count;
}

__attribute__((no_sanitize_address)) inline void check_access(const void* pointer, std::size_t size, bool write) {
    const std::uintptr_t at = (std::uintptr_t)pointer;
    if (at >= guarded_high || at + size <= guarded_low) return;
    for (int i = 0; i < guarded_count; ++i) {
        const GuardedArray& g = guarded_arrays[i];
        if (at + size <= g.low || at >= g.high || (at >= g.begin && at + size <= g.end)) continue;
        if (violation_count++ == 0) {
            const long long found[10] = {g.argument, (long long)(at - g.begin), (long long)size, write,
                                         threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z};
            for (int k = 0; k < 10; ++k) first_violation[k] = found[k];
        }
        return;
    }
}

#define NO_CHECKS extern "C" __attribute__((no_sanitize_address))
#define CHECKED_ACCESS(size) \
    NO_CHECKS void __asan_load##size##_noabort(void* p) { check_access(p, size, false); } \
    NO_CHECKS void __asan_store##size##_noabort(void* p) { check_access(p, size, true); }
CHECKED_ACCESS(1) CHECKED_ACCESS(2) CHECKED_ACCESS(4) CHECKED_ACCESS(8) CHECKED_ACCESS(16)
NO_CHECKS void __asan_loadN_noabort(void* p, std::size_t n) { check_access(p, n, false); }
NO_CHECKS void __asan_storeN_noabort(void* p, std::size_t n) { check_access(p, n, true); }
extern "C" void __asan_handle_no_return() {}
extern "C" void __asan_before_dynamic_init(const char*) {}
extern "C" void __asan_after_dynamic_init() {}

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
    else if constexpr (std::is_same_v<U, unsigned char>) return p + "u1";
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
__attribute__((no_sanitize_address))
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


# Every load and store of the kernel code goes through the checks above, and nothing else
# (no shadow memory, no checks of stack or globals).
CHECKED_ACCESSES = ("-fsanitize=kernel-address", "-fsanitize-recover=kernel-address",
                    "--param", "asan-instrumentation-with-call-threshold=0", "--param", "asan-stack=0",
                    "--param", "asan-globals=0")


class OutOfBounds(AssertionError):
    """A kernel read or wrote outside one of its array arguments."""


def parameter_names(code, kernel):
    """The parameter names of kernel (a name, or a template's name expression) in code."""
    name = kernel.split("<")[0]
    found = re.search(r"__global__\s+void\s+" + re.escape(name) + r"\s*\(([^)]*)\)", strip_comments(code))
    return [re.findall(r"\w+", p)[-1] for p in found.group(1).split(",")] if found else []


def _guard_pattern(dtype):
    """One element of a guard zone: a signalling NaN for floats, 0xA5 bytes otherwise."""
    bits = {("f", 4): 0x7FA00000, ("f", 8): 0x7FF4000000000000}.get((dtype.kind, dtype.itemsize))
    if bits is None:
        return b"\xa5" * dtype.itemsize
    return bits.to_bytes(dtype.itemsize, "little")


class Guards:
    """The array arguments of one launch, each copied between two guard zones (as large as the
    array, at least 256 bytes) filled with a signalling pattern; arguments that are the same
    memory share one copy. finish() raises OutOfBounds on any access the instrumented code
    recorded in a guard zone, and on any guard byte changed, then copies the results back."""

    ALIGN = 64

    def __init__(self, args):
        self.copies = {}  # (address, nbytes) -> [first argument, original, buffer, begin]
        self.zones = {}  # first argument -> its two guard zones as they were filled
        self.addresses = []
        for i, arg in enumerate(args):
            if not isinstance(arg, numpy.ndarray):
                self.addresses.append(None)
                continue
            key = (arg.ctypes.data, arg.nbytes)
            if key not in self.copies:
                self.copies[key] = self._copy(i, arg)
            _, _, buffer, begin = self.copies[key]
            self.addresses.append(buffer.ctypes.data + begin)
        spans = sorted((a, a + n, self.copies[(a, n)][0]) for a, n in self.copies if n)
        for (_, end, i), (start, _, j) in zip(spans, spans[1:]):
            assert start >= end, f"arguments {i} and {j} overlap in part: the emulator cannot guard them"

    def _copy(self, i, arg):
        guard = max(256, -(-arg.nbytes // self.ALIGN) * self.ALIGN)
        pattern = _guard_pattern(arg.dtype)
        buffer = numpy.frombuffer(pattern * (-(-(2 * guard + arg.nbytes + self.ALIGN) // len(pattern))),
                                  numpy.uint8).copy()
        begin = guard + (-buffer.ctypes.data) % self.ALIGN
        buffer[begin:begin + arg.nbytes] = _bytes(arg)
        self.zones[i] = buffer[:begin].copy(), buffer[begin + arg.nbytes:].copy()
        return [i, arg, buffer, begin]

    def ranges(self):
        """(low, begin, end, high, argument) of every copy, for emulator_guard."""
        flat = []
        for i, arg, buffer, begin in self.copies.values():
            address = buffer.ctypes.data
            flat += [address, address + begin, address + begin + arg.nbytes, address + buffer.size, i]
        return len(self.copies), (ctypes.c_longlong * len(flat))(*flat)

    def finish(self, kernel, names, violations, first):
        def describe(i, arg):
            name = f" ({names[i]})" if i < len(names) else ""
            return f"argument {i}{name}, {arg.size} {arg.dtype} elements"

        copies = {i: (arg, buffer, begin) for i, arg, buffer, begin in self.copies.values()}
        if violations:
            i, offset, size, write, *where = first
            arg = copies[i][0]
            raise OutOfBounds(f"{kernel}: out-of-bounds {'write' if write else 'read'} of {describe(i, arg)}, "
                              f"at index {offset // arg.itemsize} ({size} bytes at byte {offset}), by thread "
                              f"{tuple(where[:3])} of block {tuple(where[3:])}; {violations} such accesses")
        for i, (arg, buffer, begin) in copies.items():
            for zone, start, expected in zip((buffer[:begin], buffer[begin + arg.nbytes:]),
                                             (0, begin + arg.nbytes), self.zones[i]):
                changed = numpy.flatnonzero(zone != expected)
                if changed.size:
                    offset = start + int(changed[0]) - begin
                    raise OutOfBounds(f"{kernel}: out-of-bounds write to {describe(i, arg)}, at index "
                                      f"{offset // arg.itemsize} (a guard zone changed)")
            result = buffer[begin:begin + arg.nbytes]
            if not numpy.array_equal(result, _bytes(arg)):
                _bytes(arg)[...] = result


def _bytes(array):
    """The bytes of a C-contiguous array, as a writable-if-it-is uint8 view."""
    return array.view(numpy.ndarray).reshape(-1).view(numpy.uint8)


def _dim3(dims, name, kernel):
    assert 1 <= len(dims) <= 3 and all(int(d) >= 1 for d in dims), \
        f"{kernel}: {name} {dims} must be 1 to 3 positive sizes"
    return (ctypes.c_uint * 3)(*(list(map(int, dims)) + [1] * (3 - len(dims))))


class EmulatedFunction:
    def __init__(self, library, name, symbol, parameters=()):
        self.name = name
        self.parameters = parameters
        self.library = library
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
        for i, arg in enumerate(args):
            assert not isinstance(arg, numpy.ndarray) or arg.flags.c_contiguous, \
                f"{self.name}: argument {i} is not C-contiguous"
        guards = Guards(args)
        for i, (arg, expected) in enumerate(zip(args, self.signature)):
            if isinstance(arg, numpy.ndarray):
                got = f"P{arg.dtype.kind}{arg.dtype.itemsize}"
                holder = ctypes.c_void_p(guards.addresses[i])
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
        self.library.emulator_guard(*guards.ranges())
        self.launch(grid, block, pointers)
        first = (ctypes.c_longlong * 10)()
        guards.finish(self.name, self.parameters, self.library.emulator_violations(first), list(first))


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
        result = subprocess.run(["g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-Wl,-z,defs", *CHECKED_ACCESSES,
                                 *(f"-I{d}" for d in include_dirs), "-o", str(library), str(cpp)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"emulator build failed:\n{result.stderr}"
        self.library = ctypes.CDLL(str(library))
        self.library.emulator_guard.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_longlong)]
        self.library.emulator_violations.restype = ctypes.c_longlong
        self.functions = {n: EmulatedFunction(self.library, n, s, parameter_names(code, n))
                          for n, s in symbols.items()}

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
                         empty=numpy.empty, empty_like=numpy.empty_like, zeros=numpy.zeros,
                         arange=numpy.arange, argsort=numpy.argsort, int64=numpy.int64,
                         cublas=types.SimpleNamespace(gemm=cublas_gemm))


def cublas_gemm(transa, transb, a, b, out=None, alpha=1.0, beta=0.0):
    """cupy.cublas.gemm: out = alpha * op(a) @ op(b) + beta * out, op transposing for "T" (out
    is not read where beta is 0, as cuBLAS's); a new (M, N) array without out."""
    op_a, op_b = (x.T if trans == "T" else x for x, trans in ((a, transa), (b, transb)))
    product = op_a @ op_b
    if alpha != 1:
        product *= product.dtype.type(alpha)
    if out is None:
        return product
    if beta:
        product = (out * out.dtype.type(beta) if beta != 1 else out) + product
    out[...] = product
    return out
