"""The gateway about itself: version, state of each upstream (SET-6)."""
