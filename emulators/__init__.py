"""Stand-ins for the retailer's legacy systems: real servers, real protocols, real quirks.

Each emulator is a Starlette app (mail adds an SMTP server) with deterministic demo data
(:mod:`emulators.data`), its own SQLite state, fault knobs (:mod:`emulators.faults`) and an
admin API under ``/_admin``. They serve the demo and the tests; they never import the gateway.
"""
