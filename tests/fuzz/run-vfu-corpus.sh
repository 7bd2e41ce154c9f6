#!/bin/sh
# make check: msiv-vfu's fuzz target (fuzz-vfu.c) once over every seed of
# tests/fuzz/vfu-corpus, as TAP (run-corpus.sh).
: "${top_srcdir:?run through make check}"
MSIV_CORPUS=vfu exec sh "$top_srcdir/tests/fuzz/run-corpus.sh"
