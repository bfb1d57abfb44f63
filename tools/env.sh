# Sourced by ./run: builds the project's environment on demand, idempotently.
#   ensure_env    .venv with everything in requirements.txt, CMake paths fixed
#   ensure_build  colcon build of this package into build/ and install/
#   activate      the environment for ROS, colcon and the partnner CLI

VENV="$ROOT/.venv"
BUILD_BASE="$ROOT/build"
INSTALL_BASE="$ROOT/install"

die() { echo "run: $*" >&2; exit 1; }

check_platform() {
  [ "$(uname -s)" = Linux ] || die "unsupported OS $(uname -s): the ROS 2 wheels are Linux only."
  [ "$(uname -m)" = x86_64 ] || die "unsupported architecture $(uname -m): the pinned torch 2.14.1 and the ROS 2 Kilted wheels used here are for x86_64; on aarch64 see README, 'Other machines'."
  PYTHON="${PARTNNER_PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
    done
  fi
  [ -n "$PYTHON" ] || die "no python3 found; install CPython 3.11 (e.g. apt install python3.11 python3.11-venv)."
  local version
  version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$version" = 3.11 ] || die "unsupported Python $version ($PYTHON): the ROS 2 Kilted wheels are built for CPython 3.11 only. Install python3.11 or set PARTNNER_PYTHON to one."
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

fix_cmake_paths() {
  # The wheels' CMake exports name the wheel builder's Python include dirs; CMake
  # rejects imported targets whose include dirs do not exist, so point them here.
  local py_inc np_inc files
  py_inc=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  np_inc=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
  files=$(grep -rlF /opt/python/cp311-cp311 "$VENV/share" --include='*.cmake' || true)
  [ -z "$files" ] && return 0
  echo "$files" | xargs sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g"
}

ensure_env() {
  local want stamp="$VENV/.partnner-env"
  want=$(hash_of "$ROOT/requirements.txt" "$ROOT/tools/env.sh")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  check_platform
  if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "run: $VENV was made by another Python; recreating it" >&2
    rm -rf "$VENV"
  fi
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || die "could not create $VENV (on Debian/Ubuntu: apt install python3.11-venv)."
  echo "run: installing requirements into $VENV (first time: a few minutes)" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$ROOT/requirements.txt" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  "$VENV/bin/python" -m pip check >/dev/null 2>&1 || true
  YOLO_OFFLINE=1 YOLO_VERBOSE=0 "$VENV/bin/python" -c 'import rclpy, torch, torchvision, ultralytics, cv2, zstandard, lz4' >&2 \
    || die "the environment in $VENV is incomplete; see the pip output above."
  [ -x "$VENV/bin/colcon" ] || die "colcon is missing from $VENV; see the pip output above."
  fix_cmake_paths
  echo "$want" > "$stamp"
}

activate() {
  export VIRTUAL_ENV="$VENV"
  export PATH="$VENV/bin:$PATH"
  export AMENT_PREFIX_PATH="$INSTALL_BASE/partnner_ros:$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PYTHONPATH="$INSTALL_BASE/partnner_ros/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
  export PATH="$INSTALL_BASE/partnner_ros/bin:$PATH"
  export LD_LIBRARY_PATH="$INSTALL_BASE/partnner_ros/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ -z "${PARTNNER_TRACES:-}" ] && [ -d "$ROOT/../shared/traces" ]; then
    export PARTNNER_TRACES="$(cd "$ROOT/../shared/traces" && pwd)"
  fi
  export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$ROOT/config/fastdds.xml}"
  export YOLO_OFFLINE="${YOLO_OFFLINE:-1}" YOLO_AUTOINSTALL="${YOLO_AUTOINSTALL:-0}" YOLO_VERBOSE="${YOLO_VERBOSE:-0}"
}

source_hash() {
  (cd "$ROOT" && find msg partnner_ros launch config scripts CMakeLists.txt package.xml \
      -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

ensure_build() {
  local want stamp="$INSTALL_BASE/.partnner-build"
  want="$(source_hash) $(cat "$VENV/.partnner-env")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "run: colcon build" >&2
  # The package is the repository root and .venv sits inside it, so the venv's
  # numpy headers would be "prefixed in the source directory", which CMake refuses
  # to export. colcon therefore sees the package through build/src, a link to the
  # root, and CMake's source dir is that logical path.
  mkdir -p "$BUILD_BASE"
  ln -sfn .. "$BUILD_BASE/src"
  (
    activate
    cd "$ROOT"
    colcon build --paths "$BUILD_BASE/src" --build-base "$BUILD_BASE" --install-base "$INSTALL_BASE" \
      --event-handlers console_cohesion+ \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=ON
  ) >"$ROOT/log-build.txt" 2>&1 || { tail -n 60 "$ROOT/log-build.txt" >&2; die "colcon build failed; full log in log-build.txt"; }
  echo "$want" > "$stamp"
}

run_tests() {
  activate
  cd "$ROOT"
  local rc=0
  colcon test --paths "$BUILD_BASE/src" --build-base "$BUILD_BASE" --install-base "$INSTALL_BASE" \
    --event-handlers console_direct+ --return-code-on-test-failure "$@" || rc=$?
  colcon test-result --test-result-base "$BUILD_BASE" --verbose || rc=1
  return $rc
}
