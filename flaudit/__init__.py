"""flaudit: proves or refutes that a federated-learning deployment on Azure ML keeps each silo's data to itself."""

__version__ = "0.1.0"
#: Version of the built-in rule pack; bumped whenever a rule's logic or blocking profiles change,
#: so a gate pinned to a result can tell that the rules under it moved.
RULE_PACK_VERSION = "2026.12.0"
