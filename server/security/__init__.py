"""HTTP hardening: security headers on every response."""
