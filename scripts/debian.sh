# Shell helpers for the ensure-* scripts (sourced, not run): install Debian packages where allowed, wait.

can_install() { [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; }
apt_updated=""
install() {
  if ! can_install; then
    echo "error: $* missing, and this is not root on Debian: install it by hand." >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then apt-get update -q >/dev/null; apt_updated=1; fi
  echo "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "error: $what did not come up within ${seconds}s" >&2
  return 1
}
