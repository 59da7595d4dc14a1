from setuptools import setup

setup(
    name="minigan",
    version="0.1.0",
    description="A small deep-learning engine on NumPy/Numba and CuPy, built to train GANs",
    python_requires=">=3.10",
    packages=["minigan", "minigan.functional", "minigan.nn", "minigan.data", "minigan.kernels"],
    package_dir={"minigan.kernels": "kernels"},
    package_data={"minigan.kernels": ["cuda/*.cu", "cuda/*.cuh"]},
    install_requires=["numpy>=1.24", "numba>=0.58", "matplotlib>=3.6"],
    extras_require={
        "cuda": ["cupy-cuda12x>=13"],
        "test": ["pytest>=7", "pytest-benchmark>=4", "threadpoolctl>=3", "torch==2.13.0"],
    },
)
