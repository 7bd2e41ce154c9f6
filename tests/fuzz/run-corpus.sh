#!/bin/sh
# The fuzz target over its seed corpus (tests/fuzz/fuzz-corpus, built
# without libFuzzer): every seed runs through the real decoder and dispatch.
exec "${top_builddir:?}/tests/fuzz/fuzz-corpus" "${top_srcdir:?}/tests/fuzz/corpus"
