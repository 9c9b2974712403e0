# Shared by the example scripts (sourced): the checks of the quick start's environment, numbered
# steps, clean-up on exit, the API with the admin token, waiting, asking a name server, and the
# quick start's external network.
set -euo pipefail
P=${WEFT_EXAMPLE_PREFIX:-ex}
: "${OS_ENDPOINT:?set OS_AUTH_TYPE, OS_ENDPOINT and OS_TOKEN as in the README quick start}" "${OS_TOKEN:?set OS_TOKEN (cat data/admin-token)}"
command -v weft >/dev/null || { echo "weft is not on PATH: export PATH=\"\$PWD/bin:\$PATH\"" >&2; exit 1; }
for tool in openstack curl jq; do command -v $tool >/dev/null || { echo "$tool is missing (apt-get install python3-openstackclient curl jq)" >&2; exit 1; }; done

# Printing: numbered steps, and what each check proves.
n=0
step() { n=$((n + 1)); printf '\n%d. %s\n' "$n" "$*"; }
proves() { printf '   => %s\n' "$*"; }
fail() { printf '   FAILED: %s\n' "$*" >&2; exit 1; }

# Clean-up: every creation pushes its undo; on exit they run newest first, each allowed to fail.
undo=()
later() { undo=("$*" "${undo[@]}"); }
cleanup() {
  local rc=$? cmd
  set +e
  trap - EXIT INT TERM
  printf '\nCleaning up what this script made\n'
  for cmd in "${undo[@]}"; do eval "$cmd" >/dev/null 2>&1 || echo "   (clean-up step failed: $cmd)"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The Neutron API with the admin token, for the clean-up (quicker than one openstack process a step).
api() {
  local body=()
  if [ $# -ge 3 ]; then body=(-H 'Content-Type: application/json' -d "$3"); fi
  curl -sS --fail-with-body -X "$1" -H "X-Auth-Token: $OS_TOKEN" "${body[@]}" "$OS_ENDPOINT/v2.0$2"
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND until it succeeds, or fails after SECONDS.
wait_for() {
  local what=$1 secs=$2 end=$((SECONDS + $2))
  shift 2
  until "$@"; do ((SECONDS < end)) || fail "no $what after $secs s"; sleep 0.5; done
}
# ask ADDRESS PORT: what the name server at ADDRESS:PORT says (empty when nothing answers in 2 s).
ask() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && cat <&3' "$1" "$2" 2>/dev/null || true; }
answers() { [ "$(ask "$1" "$2")" = "$3" ]; }

# The external network: the quick start's `public`, or made here (and removed at the end).
ensure_public() {
  if openstack network show public >/dev/null 2>&1; then
    echo "   using the existing external network public"
    return
  fi
  local id
  id=$(openstack network create --external --provider-network-type flat --provider-physical-network public public -f value -c id)
  later api DELETE "/networks/$id"
  openstack subnet create --network public --subnet-range 172.24.4.0/24 --gateway 172.24.4.1 \
    --allocation-pool start=172.24.4.10,end=172.24.4.200 public-sub >/dev/null
  echo "   made the external network public: flat on physical network public, 172.24.4.0/24, gateway 172.24.4.1 (this machine)"
}

# open_port SG ARGS...: adds a rule to security group SG unless it has it already (then it stays).
open_port() {
  local sg=$1 out
  shift
  if out=$(openstack security group rule create "$@" -f value -c id "$sg" 2>&1); then
    later api DELETE "/security-group-rules/$(tail -n1 <<<"$out")"
    echo "   added to the default group: ingress $*"
  elif grep -qi 'already exists' <<<"$out"; then
    echo "   the default group admits $* already"
  else
    fail "security group rule create $*: $out"
  fi
}
