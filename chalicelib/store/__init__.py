"""Data access: PynamoDB records and repositories (DynamoDB), the S3 object store. Raw failures become AppErrors here."""
