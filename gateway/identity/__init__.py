"""Customer identity: registration, sign-in, sessions, contacts, recovery, consent."""
