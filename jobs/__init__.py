"""RQ job entry points, one module per domain. Jobs take ids, never ORM objects."""
