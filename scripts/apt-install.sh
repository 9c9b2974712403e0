# Sourced by the *-deps.sh scripts: install_missing PACKAGE... installs them with apt (as root),
# or says what is missing and fails; nothing to do when called with no package.
install_missing() {
  [ $# -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "weft: missing system packages: $* (run as root to install them with apt)" >&2
    return 1
  fi
  echo "weft: installing with apt: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
