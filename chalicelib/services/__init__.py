"""Domain logic: releases, artwork uploads, the ingest path, share links. No Chalice, boto3 or httpx here."""
