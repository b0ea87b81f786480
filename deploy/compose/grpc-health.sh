#!/bin/sh
# grpc.health.v1.Health/Check of the overall status (service "") over h2c; exits 0 only on SERVING.
# Used by deploy/compose.yaml healthchecks. Usage: grpc-health [HOST:PORT]  (default 127.0.0.1:50051)
set -eu
addr="${1:-127.0.0.1:50051}"
# Request: a gRPC frame (no compression, length 0) holding an empty HealthCheckRequest.
# Reply when serving: the frame 00 00000002 around HealthCheckResponse{status: SERVING} = 08 01.
reply=$(printf '\000\000\000\000\000' \
    | curl --silent --fail --http2-prior-knowledge --max-time 3 \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        --data-binary @- "http://$addr/grpc.health.v1.Health/Check" \
    | od -An -tx1 | tr -d ' \n')
[ "$reply" = "00000000020801" ]
