"""Sleeve: the serverless backend for musicians' releases and media (Chalice application package)."""
