"""Meter readings: the product's rules (MTR-1..6) and never-lost submission (MTR-7)."""
