#!/usr/bin/env bash
# End-to-end: the aws cli, rclone and s3cmd from Debian against a running
# server. Expects S3_ENDPOINT (with the /s3 prefix), S3_ROOT_ENDPOINT (a
# listener serving S3 at its root), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
# and WORK (a scratch directory). Loopback only.
set -euo pipefail

AWS=/usr/bin/aws               # Debian's v2; a pyenv shim may shadow it on PATH
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_CA_BUNDLE AWS_PROFILE || true
cd "$WORK"

step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; }

tree() { # a tree of nested directories with unicode names
    local d=$1
    mkdir -p "$d/ünïcødé/sub dir/深い" "$d/plain/a/b"
    for i in 1 2 3; do
        printf 'file %s\n' "$i" > "$d/plain/a/b/f$i.txt"
        head -c $((i * 70000)) /dev/urandom > "$d/ünïcødé/sub dir/深い/データ $i.bin"
    done
    printf 'x+y=z & more\n' > "$d/ünïcødé/a+b&c=d.txt"
    printf 'top\n' > "$d/top.txt"
}

# ---------------------------------------------------------------- aws cli
step "aws: mb, 64 MiB cp up and down with 8 MiB parts"
aws() { "$AWS" --endpoint-url "$S3_ENDPOINT" "$@"; }
aws configure set default.s3.multipart_chunksize 8MB
aws configure set default.s3.multipart_threshold 8MB
aws s3 mb s3://e2e-aws
head -c $((64 << 20)) /dev/urandom > big.bin
aws s3 cp big.bin s3://e2e-aws/dir/big.bin --only-show-errors
aws s3 cp s3://e2e-aws/dir/big.bin big.down --only-show-errors
same big.bin big.down
etag=$(aws s3api head-object --bucket e2e-aws --key dir/big.bin --query ETag --output text)
[[ $etag == *-8\" ]] || fail "64 MiB in 8 MiB parts should have an ETag ending in -8, got $etag"

step "aws: sync a tree up and down, ls --recursive"
tree up
aws s3 sync up s3://e2e-aws/tree --only-show-errors
n=$(aws s3 ls s3://e2e-aws/tree/ --recursive | wc -l)
[ "$n" -eq 8 ] || fail "ls --recursive lists $n keys, want 8"
aws s3 sync s3://e2e-aws/tree down --only-show-errors
diff -r up down || fail "aws sync round trip differs"
again=$(aws s3 sync up s3://e2e-aws/tree | wc -l)
[ "$again" -eq 0 ] || fail "a second sync transferred $again files"

step "aws: presign, fetched with curl"
url=$(aws s3 presign s3://e2e-aws/tree/top.txt --expires-in 300)
curl -sf "$url" -o presigned.txt || fail "presigned url refused"
same up/top.txt presigned.txt

step "aws: rm --recursive, rb"
aws s3 rm s3://e2e-aws --recursive --only-show-errors
[ -z "$(aws s3 ls s3://e2e-aws --recursive)" ] || fail "objects left after rm --recursive"
aws s3 rb s3://e2e-aws

# ---------------------------------------------------------------- rclone
step "rclone: sync a tree both ways, check, second sync is a no-op"
export RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other RCLONE_CONFIG_GW_ENDPOINT="$S3_ENDPOINT" \
    RCLONE_CONFIG_GW_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    RCLONE_CONFIG_GW_REGION=us-east-1 RCLONE_CONFIG_GW_FORCE_PATH_STYLE=true
rc() { env -u AWS_CA_BUNDLE rclone --config /dev/null -q "$@"; }
rc mkdir gw:e2e-rclone
rc sync up gw:e2e-rclone/tree
rc check up gw:e2e-rclone/tree || fail "rclone check found differences"
moved=$(env -u AWS_CA_BUNDLE rclone --config /dev/null sync up gw:e2e-rclone/tree -v 2>&1 | grep -c "Copied" || true)
[ "$moved" -eq 0 ] || fail "second rclone sync copied $moved files"
rc sync gw:e2e-rclone/tree rdown
diff -r up rdown || fail "rclone sync down differs"
head -c $((20 << 20)) /dev/urandom > large.bin   # multipart with a low cutoff
rc copyto --s3-upload-cutoff 5M --s3-chunk-size 5M large.bin gw:e2e-rclone/large.bin
rc copyto gw:e2e-rclone/large.bin rlarge.bin
same large.bin rlarge.bin
rc moveto gw:e2e-rclone/large.bin gw:e2e-rclone/moved.bin
rc purge gw:e2e-rclone

# ---------------------------------------------------------------- s3cmd
step "s3cmd: mb, put, get, ls, cp, del, rb (root listener)"
host=${S3_ROOT_ENDPOINT#http://}
cat > s3cfg <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $host
host_bucket = $host
use_https = False
signature_v2 = False
bucket_location = us-east-1
CFG
s3c() { s3cmd -c s3cfg --no-progress "$@"; }
s3c mb s3://e2e-s3cmd
s3c put up/top.txt "s3://e2e-s3cmd/a dir/top.txt"
s3c get --force "s3://e2e-s3cmd/a dir/top.txt" s3cmd.txt
same up/top.txt s3cmd.txt
s3c ls "s3://e2e-s3cmd/a dir/" | grep -q "top.txt" || fail "s3cmd ls misses the object"
s3c cp "s3://e2e-s3cmd/a dir/top.txt" "s3://e2e-s3cmd/copy.txt"
s3c put big.bin s3://e2e-s3cmd/big.bin --multipart-chunk-size-mb=8
s3c get --force s3://e2e-s3cmd/big.bin s3cmd-big.bin
same big.bin s3cmd-big.bin
s3c del --recursive --force s3://e2e-s3cmd/
s3c rb s3://e2e-s3cmd

echo "e2e: all S3 clients passed"
