"""Security primitives: password hashing, opaque tokens, one-time codes, rate limits."""
