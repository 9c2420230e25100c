#!/bin/sh
# Starts unbound (the zone) and dnsdist (the front, where faults act). If either dies the
# container stops, so a broken DNS is seen as a stopped service, not as a fault.
#
# The zone's records follow the replica's containers: FAULTLINE_CONFIG (written to
# $FAULTLINE_CONFIG_PATH) holds "name ttl service" lines, and every second each service's
# address is looked up in the engine's own resolver. When an address changes (a container
# came back with another one), unbound reloads the zone.
set -eu
spec=${FAULTLINE_CONFIG_PATH:-/etc/faultline/dns-zone.txt}
zone=/etc/unbound/faultline-zone.conf

render() {
  printf 'local-zone: "faultline.test." static\n'
  # The SOA's last field is how long resolvers may cache a negative answer.
  negative=$(awk 'NF == 3 { print $2; exit }' "$spec")
  printf 'local-data: "faultline.test. 3600 IN SOA dns.faultline.test. hostmaster.faultline.test. 1 3600 600 86400 %s"\n' "${negative:-5}"
  while read -r name ttl service; do
    [ -n "${service:-}" ] || continue
    address=$(getent ahostsv4 "$service" 2>/dev/null | awk 'NR == 1 { print $1 }')
    if [ -n "$address" ]; then
      printf 'local-data: "%s %s IN A %s"\n' "$name" "$ttl" "$address"
    else
      # A lookup that failed (the engine's resolver slow, the service restarting) keeps the
      # record as it was: a lost record would look exactly like an NXDOMAIN fault.
      grep -F "local-data: \"$name $ttl IN A " "$zone" 2>/dev/null || true
    fi
  done < "$spec"
}

render > "$zone"
unbound-checkconf /etc/unbound/faultline.conf >/dev/null
unbound -d -c /etc/unbound/faultline.conf &
unbound_pid=$!
dnsdist --supervised --disable-syslog -C /etc/dnsdist/dnsdist.conf &
dnsdist_pid=$!
trap 'kill "$unbound_pid" "$dnsdist_pid" 2>/dev/null || true' TERM INT
# POSIX sh has no `wait -n`: poll until one of the two is gone, then stop the other.
while kill -0 "$unbound_pid" 2>/dev/null && kill -0 "$dnsdist_pid" 2>/dev/null; do
  sleep 1
  render > "$zone.next"
  if cmp -s "$zone" "$zone.next"; then rm -f "$zone.next"; else
    mv "$zone.next" "$zone"
    kill -HUP "$unbound_pid"
  fi
done
kill "$unbound_pid" "$dnsdist_pid" 2>/dev/null || true
echo "faultline-dns: unbound or dnsdist exited" >&2
exit 1
