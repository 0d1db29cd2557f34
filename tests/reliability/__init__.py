"""Reliability and security tests: crashes, torn files, exact resume, NaN, bad input, server abuse."""
