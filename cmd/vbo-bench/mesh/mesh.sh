#!/bin/sh
# Mesh / Hive Gateway for cmd/vbo-bench. Runs from this directory.
#   sh mesh.sh compose                 npm ci (pinned, from package-lock.json) if needed, then compose supergraph.graphql
#   sh mesh.sh serve SUPERGRAPH PORT   serve a supergraph on 127.0.0.1:PORT (exec: the pid is node's)
set -eu
cd "$(dirname "$0")"
case "${1:-}" in
compose)
	if [ ! -x node_modules/.bin/mesh-compose ] || [ ! -x node_modules/.bin/hive-gateway ]; then
		npm ci --no-audit --no-fund --loglevel=error
	fi
	exec node_modules/.bin/mesh-compose -o supergraph.graphql
	;;
serve)
	exec node node_modules/@graphql-hive/gateway/dist/bin.js supergraph "$2" --host 127.0.0.1 --port "$3"
	;;
*)
	echo "usage: sh mesh.sh compose | serve SUPERGRAPH PORT" >&2
	exit 2
	;;
esac
