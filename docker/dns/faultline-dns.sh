#!/bin/sh
# Starts unbound (the zone) and dnsdist (the front, where faults act). If either dies the
# container stops, so a broken DNS is seen as a stopped service, not as a fault.
set -eu
unbound-checkconf /etc/unbound/faultline.conf >/dev/null
unbound -d -c /etc/unbound/faultline.conf &
unbound_pid=$!
dnsdist --supervised --disable-syslog -C /etc/dnsdist/dnsdist.conf &
dnsdist_pid=$!
trap 'kill "$unbound_pid" "$dnsdist_pid" 2>/dev/null || true' TERM INT
# POSIX sh has no `wait -n`: poll until one of the two is gone, then stop the other.
while kill -0 "$unbound_pid" 2>/dev/null && kill -0 "$dnsdist_pid" 2>/dev/null; do
  sleep 1
done
kill "$unbound_pid" "$dnsdist_pid" 2>/dev/null || true
echo "faultline-dns: unbound or dnsdist exited" >&2
exit 1
