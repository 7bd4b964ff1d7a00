"""flaudit's built-in rule pack: one module per area, each rule declared with flaudit.engine.rule."""
