#!/usr/bin/env bash
# A throwaway single-node Ceph object gateway for `npm run bench -- --peer radosgw`
# (bench/README.md, "Against a peer"): one ceph-mon, one ceph-osd (bluestore in a sparse
# file, or memstore) and radosgw (beast) on a loopback port, all under a temporary directory,
# without cephx (loopback only), with the `testing` KMS backend for SSE-KMS and
# SSE-C over plain HTTP. Debian packages: ceph-mon ceph-osd radosgw ceph-common.
#
#   bench/peers/radosgw.sh [DIR]
#
# Prints one JSON line once S3 answers:
#   {"listening":true,"port":N,"accessKey":"…","secretKey":"…","kmsKeyId":"testkey-1","objectstore":"…","dir":"…"}
# then keeps running with the daemons as its children (so /proc of this script's
# pid and its descendants is all of Ceph's CPU and memory) until SIGTERM/SIGINT,
# when it stops them and removes DIR (RADOSGW_KEEP_DIR=1 keeps it, logs in DIR/log).
# RADOSGW_OBJECTSTORE=bluestore (default) or memstore; RADOSGW_STORE_BYTES (default 16 GiB).
set -euo pipefail

for bin in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
  command -v "$bin" >/dev/null || { echo "radosgw.sh: $bin not found (apt-get install -y ceph-mon ceph-osd radosgw ceph-common)" >&2; exit 3; }
done

DIR=${1:-$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-ceph-XXXXXX")}
mkdir -p "$DIR"/{run,log,mon,osd}
# bluestore (default): the OSD writes to a sparse file under DIR with direct I/O and syncs its
# RocksDB WAL, as a real deployment writes to a disk. memstore: everything in RAM (faster to
# start, and no disk, which flatters the peer's PUTs).
OBJECTSTORE=${RADOSGW_OBJECTSTORE:-bluestore}
STORE_BYTES=${RADOSGW_STORE_BYTES:-$((16 * 1024 * 1024 * 1024))}
case "$OBJECTSTORE" in
  bluestore) STORE_CONF="osd objectstore = bluestore
bluestore block create = true
bluestore block size = $STORE_BYTES
bluestore fsck on mkfs = false
bluestore fsck on mount = false" ;;
  memstore) STORE_CONF="osd objectstore = memstore
memstore device bytes = $STORE_BYTES" ;;
  *) echo "radosgw.sh: RADOSGW_OBJECTSTORE must be bluestore or memstore" >&2; exit 2 ;;
esac

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MON_PORT=$(free_port)
RGW_PORT=$(free_port)
FSID=$(cat /proc/sys/kernel/random/uuid)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
# The `testing` KMS backend takes its keys from the configuration: name=base64 of 32 bytes.
KMS_KEY=$(head -c 32 /dev/urandom | base64)
CONF=$DIR/ceph.conf

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -n "${RADOSGW_KEEP_DIR:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
keyring = $DIR/keyring
$STORE_CONF
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd max object name len = 460
osd max object namespace len = 64

[client.rgw.bench]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = testkey-1=$KMS_KEY
rgw crypt require ssl = false
rgw dns name = 127.0.0.1
# Overwritten objects' data is freed by RGW's garbage collector, by default 2 h later; the
# benchmark overwrites a window of keys (as Coffer's collector frees old blobs at once), so
# collect within a minute, or stored data would grow through the whole run.
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw gc processor max time = 30
CONF

ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
ceph-mon -c "$CONF" -i a -f &
pids+=($!)

OSD_ID=$(timeout 60 ceph -c "$CONF" osd new "$OSD_UUID")
mkdir -p "$DIR/osd/ceph-$OSD_ID"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>>"$DIR/log/mkfs.log"
ceph-osd -c "$CONF" -i "$OSD_ID" -f &
pids+=($!)

radosgw -c "$CONF" -n client.rgw.bench -f &
pids+=($!)

for _ in $(seq 1 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$RGW_PORT") 2>/dev/null; then break; fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "radosgw.sh: a Ceph daemon exited; logs in $DIR/log" >&2; tail -n 20 "$DIR"/log/*.log >&2; exit 4; }; done
  sleep 0.2
done

ACCESS=BENCHRGW$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
SECRET=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
timeout 60 radosgw-admin -c "$CONF" -n client.admin user create --uid bench --display-name "coffer bench" --access-key "$ACCESS" --secret "$SECRET" >/dev/null

printf '{"listening":true,"port":%d,"accessKey":"%s","secretKey":"%s","kmsKeyId":"testkey-1","objectstore":"%s","dir":"%s"}\n' "$RGW_PORT" "$ACCESS" "$SECRET" "$OBJECTSTORE" "$DIR"
wait -n "${pids[@]}" || true
echo "radosgw.sh: a Ceph daemon exited; logs in $DIR/log" >&2
exit 4
