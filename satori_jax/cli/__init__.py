"""Thin command-line front ends; the library modules do the work."""
