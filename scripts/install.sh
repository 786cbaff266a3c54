#!/usr/bin/env bash
# Create the venv and install lensflow. torch goes first and pinned: an open range would pull a
# multi-GB CUDA build, while torch==2.13.0 resolves to the CPU wheel.
set -euo pipefail
venv=${1:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet torch==2.13.0
"$venv/bin/python" -m pip install --quiet -e '.[dev]'
