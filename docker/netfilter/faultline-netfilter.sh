#!/bin/sh
# faultline-netfilter hold | sweep
#
# hold: create chains $FAULTLINE_CHAIN-I and -O, fill them with the rules in
#   FAULTLINE_RULES_IN / FAULTLINE_RULES_OUT (one iptables rule spec per line), hook them
#   first in INPUT and OUTPUT, optionally add a netem qdisc (FAULTLINE_NETEM, e.g.
#   "loss 10%") on eth0 with FAULTLINE_RULES_OUT_FALLBACK used when the kernel has no netem,
#   print "faultline-netfilter: ready backend=..." and hold until SIGTERM/SIGINT or until
#   FAULTLINE_TTL seconds have passed; then remove everything it added and exit.
#   FAULTLINE_RULES_NAT (optional) fills a chain $FAULTLINE_CHAIN-N of the nat table, hooked
#   first in its OUTPUT: a transparent redirect (DNAT) of this namespace's own connections.
#   The deadline is the dead-man's switch: rules never outlive it, whoever dies.
# sweep: remove every chain whose name starts with FL, in the filter and nat tables (and their
#   hooks), and a netem root qdisc
#   left in this namespace. Used by `faultline recover`.
set -u
MODE="${1:-hold}"

say() { echo "faultline-netfilter: $*"; }

remove_chain() {
  chain="$1"
  for hook in INPUT OUTPUT; do
    while iptables -w -D "$hook" -j "$chain" 2>/dev/null; do :; done
  done
  iptables -w -F "$chain" 2>/dev/null
  iptables -w -X "$chain" 2>/dev/null
}

remove_nat_chain() {
  chain="$1"
  while iptables -w -t nat -D OUTPUT -j "$chain" 2>/dev/null; do :; done
  iptables -w -t nat -F "$chain" 2>/dev/null
  iptables -w -t nat -X "$chain" 2>/dev/null
}

if [ "$MODE" = "sweep" ]; then
  for chain in $(iptables -w -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^FL/ { print $2 }'); do
    remove_chain "$chain" && say "removed chain $chain"
  done
  for chain in $(iptables -w -t nat -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^FL/ { print $2 }'); do
    remove_nat_chain "$chain" && say "removed chain $chain"
  done
  if tc qdisc show dev eth0 2>/dev/null | grep -q netem; then
    tc qdisc del dev eth0 root 2>/dev/null && say "removed netem qdisc"
  fi
  say "swept"
  exit 0
fi

CHAIN="${FAULTLINE_CHAIN:?FAULTLINE_CHAIN is required}"
TTL="${FAULTLINE_TTL:?FAULTLINE_TTL is required}"
NETEM_ADDED=""

cleanup() {
  remove_chain "$CHAIN-I"
  remove_chain "$CHAIN-O"
  if [ -n "${FAULTLINE_RULES_NAT:-}" ]; then remove_nat_chain "$CHAIN-N"; fi
  if [ -n "$NETEM_ADDED" ]; then tc qdisc del dev eth0 root 2>/dev/null; fi
  say "removed"
}

add_rules() { # chain, rules, [table]
  printf '%s\n' "$2" | while IFS= read -r rule; do
    [ -z "$rule" ] && continue
    # shellcheck disable=SC2086 # rule specs are word lists by design
    iptables -w -t "${3:-filter}" -A "$1" $rule || exit 1
  done
}

fail() { say "failed: $*"; cleanup; exit 1; }

iptables -w -N "$CHAIN-I" || fail "cannot create chain $CHAIN-I"
iptables -w -N "$CHAIN-O" || fail "cannot create chain $CHAIN-O"
backend="iptables"
rules_out="${FAULTLINE_RULES_OUT:-}"
if [ -n "${FAULTLINE_NETEM:-}" ]; then
  # shellcheck disable=SC2086
  if tc qdisc add dev eth0 root netem ${FAULTLINE_NETEM} 2>/dev/null; then
    NETEM_ADDED=1
    backend="netem"
  else
    rules_out="${FAULTLINE_RULES_OUT_FALLBACK:-}"
  fi
fi
add_rules "$CHAIN-I" "${FAULTLINE_RULES_IN:-}" || fail "bad ingress rule"
add_rules "$CHAIN-O" "$rules_out" || fail "bad egress rule"
# Hooked first, before any accept of established traffic.
iptables -w -I INPUT 1 -j "$CHAIN-I" || fail "cannot hook INPUT"
iptables -w -I OUTPUT 1 -j "$CHAIN-O" || fail "cannot hook OUTPUT"
if [ -n "${FAULTLINE_RULES_NAT:-}" ]; then
  iptables -w -t nat -N "$CHAIN-N" || fail "cannot create chain $CHAIN-N"
  add_rules "$CHAIN-N" "$FAULTLINE_RULES_NAT" nat || fail "bad nat rule"
  iptables -w -t nat -I OUTPUT 1 -j "$CHAIN-N" || fail "cannot hook nat OUTPUT"
fi

trap 'cleanup; exit 0' TERM INT
say "ready backend=$backend"
sleep "$TTL" &
wait $!
say "deadline of ${TTL}s passed"
cleanup
