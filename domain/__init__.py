"""Pure domain model of course recommendation: entities, value objects, errors and strategy ports."""
