#!/usr/bin/env bash
# Fill .whl/ with what a bare GPU image (python 3.12 with torch, no package index) lacks to run
# scripts/gpu_check.sh: astropy and Ray's jsonschema as wheels, and Ray itself as
# ray-stripped.tar.xz (its wheel is 79 MB; without the Java jar, RLlib, Serve and LLM and with
# its binaries stripped it is 19 MB xz'd, so it travels with the working tree).
set -euo pipefail
cd "$(dirname "$0")/.."
PYV=${PYV:-3.12}
RAY=$(sed -n 's/^ray==//p' scripts/constraints.txt)
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
tmp=$(mktemp -d)
dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
         --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$1" "${@:2}"; }
dl .whl astropy pyerfa astropy-iers-data jsonschema jsonschema-specifications referencing rpds-py
dl "$tmp" "ray==$RAY"
(cd "$tmp" && unzip -q ray-*.whl && rm -rf ray/jars ray/rllib ray/serve ray/llm ray/dashboard/client/build/static/js/*.map \
  && find ray -type f \( -name '*.so' -o -path 'ray/core/src/ray/*' \) -exec strip {} + 2>/dev/null || true;
  tar cf - ray ray-*.dist-info | xz -9 -T0 > "$OLDPWD/.whl/ray-stripped.tar.xz")
rm -rf "$tmp"
du -ch .whl/* | tail -1
