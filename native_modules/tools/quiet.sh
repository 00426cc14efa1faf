#!/bin/sh
# Run a command; show its output only when it fails (keeps `make` quiet on success).
out=$("$@" 2>&1) || { status=$?; printf '%s\n' "$out"; exit $status; }
