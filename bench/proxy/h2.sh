#!/usr/bin/env bash
# HTTP/2 GET over TLS: h2load, 64 streams over 8 connections, loadwise-proxy against nginx and HAProxy (see https.sh).
MODE=h2 exec bash "$(dirname "$0")/https.sh" "$@"
