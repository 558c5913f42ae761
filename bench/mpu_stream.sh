#!/bin/sh
# mpu_stream.sh ENDPOINT BUCKET KEY PART_BYTES < data
#
# Streams stdin into s3://BUCKET/KEY as a multipart upload made of plain
# `curl --aws-sigv4` requests, one part at a time: what a shell user would
# write around `curl URL | ...`. Each part is read with dd into a file under
# /dev/shm (S3 wants a Content-Length, so a part cannot be sent as it
# arrives) and PUT with x-amz-content-sha256: UNSIGNED-PAYLOAD (curl 7.88
# cannot hash a body itself). Credentials: AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY; region: S3_REGION (us-east-1). Query strings are
# written sorted, as curl 7.88 signs them verbatim (docs/BENCHMARKS.md).
# Exits non-zero, after aborting the upload, when any request fails.
set -eu

[ $# -eq 4 ] || { echo "usage: $0 ENDPOINT BUCKET KEY PART_BYTES < data" >&2; exit 2; }
endpoint=$1 bucket=$2 key=$3 part=$4
region=${S3_REGION:-us-east-1}
url="$endpoint/$bucket/$key" # the bench's keys need no percent-encoding
tmp=$(mktemp -d /dev/shm/mpu_stream.XXXXXX)
upload_id=""

s3() { # curl with SigV4; the caller adds method, data and URL
	curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

cleanup() {
	rc=$?
	if [ $rc -ne 0 ] && [ -n "$upload_id" ]; then
		s3 -X DELETE "$url?uploadId=$upload_id" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT INT TERM

s3 -X POST "$url?uploads=" >"$tmp/create.xml"
upload_id=$(sed -n 's:.*<UploadId>\([^<]*\)</UploadId>.*:\1:p' "$tmp/create.xml")
[ -n "$upload_id" ] || { echo "mpu_stream.sh: no UploadId" >&2; exit 1; }

n=0
printf '<CompleteMultipartUpload>' >"$tmp/complete.xml"
while :; do
	dd bs="$part" count=1 iflag=fullblock of="$tmp/part" status=none
	size=$(stat -c %s "$tmp/part")
	# An empty stdin still makes one (empty) part; otherwise stop at EOF.
	[ "$size" -gt 0 ] || [ $n -eq 0 ] || break
	n=$((n + 1))
	etag=$(s3 -T "$tmp/part" -D - -o /dev/null "$url?partNumber=$n&uploadId=$upload_id" |
		tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')
	[ -n "$etag" ] || { echo "mpu_stream.sh: part $n has no ETag" >&2; exit 1; }
	printf '<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>' "$n" "$etag" \
		>>"$tmp/complete.xml"
	[ "$size" -eq "$part" ] || break
done
printf '</CompleteMultipartUpload>' >>"$tmp/complete.xml"

s3 -X POST -H 'Content-Type: application/xml' --data-binary "@$tmp/complete.xml" \
	"$url?uploadId=$upload_id" >"$tmp/done.xml"
if grep -q '<Error>' "$tmp/done.xml"; then
	cat "$tmp/done.xml" >&2
	exit 1
fi
upload_id=""
