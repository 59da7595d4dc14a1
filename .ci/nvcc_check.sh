#!/usr/bin/env bash
# Compile-check every CUDA source in kernels/cuda/ to PTX for sm_90 (H100),
# so a syntax error in a GPU kernel fails CI on a machine without a GPU.
# Headers (kernels/cuda/*.cuh) are checked through the .cu files that include
# them; nvcc finds them next to the including file.
# Exit 1 if nvcc is missing or any file fails to compile.
set -u
cd "$(dirname "$0")/.."

if ! command -v nvcc >/dev/null 2>&1; then
    echo "nvcc_check: nvcc not found on PATH; install the CUDA toolkit to compile-check kernels/cuda/*.cu"
    exit 1
fi

shopt -s nullglob
sources=(kernels/cuda/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
    echo "nvcc_check: no kernels/cuda/*.cu files found"
    exit 1
fi

failed=0
for source in "${sources[@]}"; do
    if output=$(nvcc --ptx -arch=sm_90 -o /dev/null "$source" 2>&1); then
        echo "nvcc_check: ok     $source"
        [ -n "$output" ] && echo "$output"
    else
        echo "nvcc_check: FAILED $source"
        echo "$output"
        failed=1
    fi
done
exit $failed
