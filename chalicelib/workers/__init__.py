"""SQS consumers and schedules (Blueprints): unwrap the event, call a service."""
