"""Data access: PynamoDB records and repositories, the S3 object store; raw failures become AppErrors here."""
