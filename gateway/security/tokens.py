"""Opaque secrets handed to clients (session tokens) and one-time codes, stored only as
hashes so that a copy of the store gives nobody a way in."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    """A session token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the store keeps of a token (SHA-256; the token itself has 256 bits of entropy,
    so no salt or stretching is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_code(digits: int = 6) -> str:
    """A one-time code of ``digits`` decimal digits from the CSPRNG."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def code_digest(secret_key: str, purpose: str, target: str, code: str) -> str:
    """What the store keeps of a one-time code: an HMAC keyed by the server secret over the
    purpose, the address it went to and the code. A six-digit code has too little entropy
    for a plain hash; without the key a stolen table cannot be brute-forced offline."""
    message = f"{purpose}\x00{target}\x00{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())
