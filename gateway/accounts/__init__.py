"""My accounts: linking, switching, and their data from billing and metering."""
