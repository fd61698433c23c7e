"""HTTP API: one Blueprint per resource (parse → call a service → serialise) and the AppError → HTTP mapping."""
